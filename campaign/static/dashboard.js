// campaign dashboard: keeps the list up to date and sends the buttons' requests.
// No build step, no library: the server renders every piece of HTML (escaped), this script only
// swaps in the pieces that changed and posts Pause / Resume / Cancel with the page's token.
"use strict";
(() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const csrf = meta("csrf-token");
  const every = Math.max(1, Number(meta("refresh-seconds")) || 3) * 1000;
  const list = document.getElementById("campaigns");
  const live = document.getElementById("live");
  const notice = document.getElementById("notice");
  let timer = 0;
  let noticeTimer = 0;
  // The printed address carries the key once (the cookie has it now): not in the address bar,
  // where a screenshot, a shared screen or a copied link would show it.
  if (location.search) history.replaceState(null, "", "/");

  // Keyed patch: keep every element whose HTML did not change, so nothing flickers and a
  // focused button keeps its focus; recurse into an element whose keyed children changed.
  function patch(parent, fresh) {
    const before = new Map();
    for (const el of parent.children) if (el.dataset.key) before.set(el.dataset.key, el);
    const wanted = [];
    for (const next of Array.from(fresh.children)) {
      const old = next.dataset.key && before.get(next.dataset.key);
      if (!old) {
        wanted.push(next);
      } else if (old.outerHTML === next.outerHTML) {
        wanted.push(old);
      } else if (old.tagName === next.tagName && next.querySelector(":scope > [data-key]")) {
        for (const { name } of Array.from(old.attributes)) {
          if (!next.hasAttribute(name)) old.removeAttribute(name);
        }
        for (const { name, value } of Array.from(next.attributes)) {
          if (old.getAttribute(name) !== value) old.setAttribute(name, value);
        }
        patch(old, next);
        wanted.push(old);
      } else {
        wanted.push(next);
      }
    }
    wanted.forEach((el, i) => {
      if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null);
    });
    while (parent.children.length > wanted.length) parent.lastElementChild.remove();
  }

  function status(text, ok) {
    live.textContent = text;
    live.classList.toggle("off", !ok);
  }

  // sticky: stays until the trouble is over (a refused or failing poll), not for 10 s only
  function say(text, bad, sticky) {
    notice.textContent = text;
    notice.classList.toggle("bad", Boolean(bad));
    notice.hidden = false;
    clearTimeout(noticeTimer);
    if (sticky) notice.dataset.sticky = "1";
    else delete notice.dataset.sticky;
    if (!sticky) noticeTimer = setTimeout(() => { notice.hidden = true; }, 10000);
  }

  // What the dashboard said: {"message"} or {"error"} from an action, plain text from a refusal.
  async function words(reply) {
    const text = (await reply.text().catch(() => "")).trim();
    try {
      const body = JSON.parse(text);
      if (body.message || body.error) return body.message || body.error;
    } catch (error) { /* plain text */ }
    return text || `The dashboard answered HTTP ${reply.status}.`;
  }

  async function refresh() {
    clearTimeout(timer);
    if (document.hidden) return; // a background tab polls nothing; it catches up when shown
    try {
      const reply = await fetch("/cards", { credentials: "same-origin", cache: "no-store" });
      if (reply.status === 403) {
        // A restarted dashboard has a new key: polling again cannot help. Its words say so.
        status("not connected", false);
        say(await words(reply), true, true);
        return;
      }
      if (!reply.ok) {
        // The dashboard runs but cannot read the campaigns (its words say why): try again later.
        status("not updating", false);
        say(await words(reply), true, true);
        timer = setTimeout(refresh, every);
        return;
      }
      const template = document.createElement("template");
      template.innerHTML = await reply.text();
      patch(list, template.content);
      const updated = list.querySelector("[data-updated]");
      status(updated ? `live · ${updated.dataset.updated}` : "live", true);
      if (notice.dataset.sticky) notice.hidden = true; // the trouble it told of is over
    } catch (error) {
      status("not updating: is campaign dashboard still running?", false);
    }
    timer = setTimeout(refresh, every);
  }

  list.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.act");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector("button");
    const label = button.textContent;
    button.disabled = true;
    button.textContent = `${label}…`; // a resumed run is watched for a few seconds
    try {
      const reply = await fetch(form.getAttribute("action"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
      });
      say(await words(reply), !reply.ok, reply.status === 403);
    } catch (error) {
      say("The dashboard did not answer: is campaign dashboard still running?", true);
    }
    button.disabled = false;
    button.textContent = label;
    refresh();
    // The run takes up a resume within a second (it looks at its request between sends):
    // look again soon, so the card does not say "Paused" for a whole interval after Resume.
    setTimeout(refresh, 1200);
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  timer = setTimeout(refresh, every);
})();
