"""The README and docs/: every relative link resolves, and the README stays a short user's
guide whose first code block is the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

from testkit.paths import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"

# [text](target) and ![alt](target); the target ends at whitespace or the closing bracket,
# so a link's optional "title" is left out.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EXTERNAL = ("http://", "https://", "mailto:", "#")


def _documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _without_code(text: str) -> str:
    """The text less its fenced code blocks and inline code, where brackets are not links."""
    text = _FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def broken_links(documents: list[Path], root: Path = ROOT) -> list[str]:
    """``file: target`` for every relative link that names no existing path (the file named
    relative to ``root``, the target as written)."""
    broken = []
    for document in documents:
        text = _without_code(document.read_text(encoding="utf-8"))
        for target in _LINK.findall(text):
            if target.startswith(_EXTERNAL):
                continue
            path = target.split("#", 1)[0]
            if not (document.parent / path).exists():
                broken.append(f"{document.relative_to(root)}: {target}")
    return broken


def test_every_relative_link_resolves():
    documents = _documents()
    assert len(documents) > 1, "docs/ holds no .md files"
    broken = broken_links(documents)
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_check_sees_links_and_images(tmp_path):
    """The checker itself: it finds a broken link and a broken image, strips a fragment,
    skips external links, anchors and code, and resolves from the file's own folder."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("x")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](there.md#part) [up](../docs/there.md) [web](https://example.com/x)\n"
        "[anchor](#top) [mail](mailto:a@b.c) `[code](missing.md)`\n"
        "```\n[fenced](missing.md)\n```\n"
        "[gone](gone.md#part) ![picture](missing.png)\n"
    )
    assert broken_links([page], tmp_path) == [
        "docs/page.md: gone.md#part",
        "docs/page.md: missing.png",
    ]


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert 150 <= len(lines) <= 260, f"README.md has {len(lines)} lines"
    first_block = _FENCE.search("\n".join(lines) + "\n")
    assert first_block is not None, "README.md has no fenced code block"
    commands = [
        line.split("#", 1)[0].strip()
        for line in first_block.group(1).splitlines()
        if line.strip()
    ]
    assert commands[:2] == ["scripts/run", "scripts/test"], first_block.group(1)
