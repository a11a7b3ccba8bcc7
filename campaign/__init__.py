"""campaign: personalised WhatsApp messages from a spreadsheet, through the ibot-chat API."""

__version__ = "0.1.0"
