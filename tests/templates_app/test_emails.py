"""The plain-text part derived from email HTML."""

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from templates_app.emails import BLOCK_TAGS, SKIPPED_TAGS, html_to_text, sanitise_html


class _Reference(HTMLParser):
    """What a full HTML parser reads: the text part's rules, without shortcuts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pieces, self.links, self.skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_TAGS:
            self.skip += 1
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")
        if tag == "li":
            self.pieces.append("- ")
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag):
        if tag in SKIPPED_TAGS:
            self.skip = max(self.skip - 1, 0)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith(("mailto:", "#")):
                self.pieces.append(f" ({href})")
        elif tag in BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.pieces.append(data)


def _reference_text(html: str) -> str:
    parser = _Reference()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.pieces).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


TAGS = ["p", "div", "a", "li", "ul", "br", "strong", "span", "table", "tr", "td"]
TEXT = st.text(alphabet="ab <>&\"'=/é\u0644\u0645\n", max_size=12)
ATTRIBUTE = st.sampled_from(
    ['href="https://example.com/pay?a=1&b=2"', "href='mailto:x@example.com'",
     'title="a > b"', 'href="javascript:alert(1)"', 'style="color:red"', "dir=rtl",
     'onclick="x()"', 'href="#top"', 'title="&quot;q&quot;"']
)  # fmt: skip


@st.composite
def html_fragments(draw, depth=0):
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        choice = draw(st.integers(0, 3 if depth < 3 else 1))
        if choice <= 1:
            parts.append(draw(TEXT))
        else:
            tag = draw(st.sampled_from(TAGS))
            attributes = " ".join(draw(st.lists(ATTRIBUTE, max_size=2)))
            inner = draw(html_fragments(depth + 1))
            parts.append(f"<{tag} {attributes}>{inner}</{tag}>")
    return "".join(parts)


@settings(max_examples=400, deadline=None)
@given(html_fragments())
def test_the_text_part_reads_what_a_full_html_parser_reads(fragment):
    html = sanitise_html(fragment)
    assert html_to_text(html) == _reference_text(html)


def test_links_keep_their_address_and_lists_their_dashes():
    html = sanitise_html(
        "<p>Dear Sara,</p><ul><li>one &amp; two</li><li>three</li></ul>"
        '<p><a href="https://pay.example.com/x?a=1&amp;b=2">Pay now</a>'
        ' or <a href="mailto:help@example.com">write</a></p>'
        "<script>alert(1)</script>"
    )
    assert html_to_text(html) == (
        "Dear Sara,\n\n- one & two\n\n- three\n\n"
        "Pay now (https://pay.example.com/x?a=1&b=2) or write"
    )
