"""Templates rendered by WeasyPrint: field rectangles, sandboxing, escaping, errors."""

import http.server
import io
import threading

import pytest
from pypdf import PdfReader

from documents.errors import DocumentError
from documents.rendering import render_pdf


def render(body: str, css: str = "", **context):
    return render_pdf(body=body, css=css, context=context, language="en")


def test_a_field_drawn_6cm_wide_lands_6cm_wide_in_the_pdf():
    rendered = render('{% field "signature" party="client" width="6cm" height="2.5cm" %}')
    (field,) = rendered.fields
    assert field.width == pytest.approx(170.079, abs=0.01)
    assert field.height == pytest.approx(70.866, abs=0.01)
    assert field.kind == "signature"
    assert field.role == "client"
    assert field.page == 1


def test_field_rectangles_are_in_points_from_the_bottom_left_corner():
    css = "@page { size: A4; margin: 0 } body { margin: 0 }"
    rendered = render(
        '<div style="height: 100pt"></div>'
        '<div style="margin-left: 50pt">{% field "date" party="company" width="100pt" '
        'height="20pt" %}</div>',
        css=css,
    )
    (field,) = rendered.fields
    page_height = float(PdfReader(io.BytesIO(rendered.pdf)).pages[0].mediabox.height)
    assert field.x == pytest.approx(50, abs=0.01)
    assert field.width == pytest.approx(100, abs=0.01)
    # Below 100pt of spacer plus the caption line above the box.
    assert field.y + field.height < page_height - 100
    assert field.y > page_height - 140


def test_a_field_pushed_to_the_second_page_is_stored_on_page_two():
    rendered = render(
        '<div style="page-break-after: always">Page 1</div>{% field "signature" party="client" %}'
    )
    assert rendered.page_count == 2
    assert rendered.fields[0].page == 2


def test_every_field_gets_a_unique_key():
    rendered = render(
        '{% field "signature" party="client" %}{% field "signature" party="client" %}'
        '{% field "stamp" party="company" key="our-stamp" %}'
    )
    keys = [field.key for field in rendered.fields]
    assert len(set(keys)) == 3
    assert "our-stamp" in keys


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _CountingHandler.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_http_server():
    _CountingHandler.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_template_cannot_read_local_files_or_reach_the_network(local_http_server):
    body = (
        '<img src="file:///etc/passwd">'
        f'<link rel="stylesheet" href="{local_http_server}/style.css">'
        f'<img src="{local_http_server}/pixel.png">'
        '<div style="background: url(file:///etc/hostname)">x</div>'
    )
    css = f'@import url("{local_http_server}/import.css"); @font-face {{ font-family: X; src: url("../../../../etc/passwd"); }}'
    rendered = render(body, css=css)
    assert _CountingHandler.hits == []
    refused = " ".join(rendered.refused_urls)
    assert "file:///etc/passwd" in refused
    assert f"{local_http_server}/pixel.png" in refused
    assert f"{local_http_server}/style.css" in refused
    assert f"{local_http_server}/import.css" in refused
    assert "file:///etc/hostname" in refused
    text = PdfReader(io.BytesIO(rendered.pdf)).pages[0].extract_text()
    assert "root:" not in text


def test_a_template_may_use_the_projects_own_fonts():
    rendered = render("<p style=\"font-family: 'Dancing Script'\">Signé</p>")
    assert rendered.refused_urls == []
    fonts = PdfReader(io.BytesIO(rendered.pdf)).pages[0]["/Resources"]["/Font"]
    names = {str(font.get_object()["/BaseFont"]) for font in fonts.values()}
    assert any("Dancing" in name for name in names), names


def test_crm_values_are_html_escaped():
    rendered = render(
        "<p>{{ name }}</p><p>{{ other }}</p>",
        name="<script>alert(1)</script>",
        other="</span><img src=x onerror=alert(1)>",
    )
    text = PdfReader(io.BytesIO(rendered.pdf)).pages[0].extract_text()
    assert "<script>alert(1)</script>" in text
    assert "</span><img src=x onerror=alert(1)>" in text
    assert rendered.refused_urls == []


def test_a_template_with_a_syntax_error_names_the_line():
    with pytest.raises(DocumentError) as caught:
        render("<p>ok</p>\n<p>ok</p>\n{% if %}\n")
    assert "line 3" in caught.value.message


def test_an_unknown_field_kind_is_a_clear_error_with_its_line():
    with pytest.raises(DocumentError) as caught:
        render('<p>one</p>\n{% field "autograph" party="client" %}')
    assert "autograph" in caught.value.message
    assert "line 2" in caught.value.message


def test_a_field_size_that_is_not_a_length_is_refused():
    with pytest.raises(DocumentError) as caught:
        render('{% field "signature" width="calc(100% + 1px)" %}')
    assert "calc" in caught.value.message


def test_a_template_cannot_include_files_from_disk():
    with pytest.raises(DocumentError):
        render('{% include "/etc/passwd" %}')


def test_a_hidden_field_is_reported_instead_of_stored_nowhere():
    with pytest.raises(DocumentError) as caught:
        render('<div style="display:none">{% field "signature" label="Hidden" %}</div>')
    assert "Hidden" in caught.value.message
