"""Issue 16: no block of the package is as tangled as `run_send` was (radon rank E or F).

The same measure as `radon cc -s campaign`: a function that grows past rank D fails here, with
its name, so it is split into steps before it lands rather than found in a review.
"""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

PACKAGE = Path(__file__).resolve().parent.parent / "campaign"


def test_no_block_of_the_package_is_rank_e_or_f() -> None:
    tangled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if cc_rank(block.complexity) in ("E", "F"):
                where = path.relative_to(PACKAGE.parent)
                tangled.append(f"{where}:{block.lineno} {block.fullname} {cc_rank(block.complexity)} "
                               f"({block.complexity})")
    assert not tangled, "split these into steps (radon cc -s campaign):\n" + "\n".join(tangled)


def test_the_measure_sees_a_tangled_function() -> None:
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(45))
    (block,) = cc_visit(f"def f(x):\n{branches}\n    return -1\n")
    assert cc_rank(block.complexity) == "F"
