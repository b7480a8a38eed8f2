"""HTML text that JupyterLab's MathJax leaves alone: every $ and backslash set apart."""

from workbench.safehtml import escape, mathsafe

DOLLAR = '<span class="wb-tex">$</span>'
SLASH = '<span class="wb-tex">\\</span>'


def test_dollar_amounts_are_set_apart_in_text():
    out = escape("spend ($0.1757 vs $0.0136)")
    assert out == f"spend ({DOLLAR}0.1757 vs {DOLLAR}0.0136)"


def test_tex_delimiters_and_environments_are_broken_up():
    out = escape(r"\(x\) and \[y\] and \begin{align}")
    assert "\\(" not in out and "\\[" not in out and "\\begin" not in out
    assert out.count(SLASH) == 5


def test_markup_scripts_styles_and_attributes_are_untouched():
    html = ("<style>.a::after{content:'$'}</style><p title='$5'>cost $5</p>"
            "<script>var s = '$' + '\\\\';</script><!-- $ -->")
    out = mathsafe(html)
    assert out == ("<style>.a::after{content:'$'}</style><p title='$5'>cost "
                   f"{DOLLAR}5</p><script>var s = '$' + '\\\\';</script><!-- $ -->")


def test_applying_it_twice_changes_nothing_more():
    once = mathsafe("<td>$1 and $2 \\ 3</td>")
    assert mathsafe(once) == once and once.count("wb-tex") == 3


def test_escape_escapes_markup_and_quotes():
    assert escape("<img src=x onerror=alert(1)> 'a' \"b\"") == \
        "&lt;img src=x onerror=alert(1)&gt; &#x27;a&#x27; &quot;b&quot;"


def test_text_without_math_characters_is_returned_as_is():
    html = "<table><tr><td>0.1757</td></tr></table>"
    assert mathsafe(html) is html
