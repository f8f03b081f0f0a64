// What every control of the page measures and every text's contrast (WCAG 2 relative luminance), computed by the
// browser itself: read by test_touch_and_contrast.py and evaluated in the page.
() => {
  const lum = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const rgba = (text) => (text.match(/[\d.]+/g) || ["0", "0", "0", "0"]).map(Number);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgba(getComputedStyle(node).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) { return c.slice(0, 3); }
    }
    return [255, 255, 255];
  };
  const shown = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none"; };
  const small = [];
  for (const el of document.querySelectorAll("button, input:not([type=hidden]), select, a.button")) {
    if (!shown(el) || el.closest("dialog:not([open])")) { continue; }
    const r = el.getBoundingClientRect();
    const target = el.type === "radio" || el.type === "checkbox" ? (el.closest("label") || el).getBoundingClientRect() : r;
    if (target.width < 48 || target.height < 48) { small.push(`${el.tagName} ${el.name || el.textContent.trim().slice(0, 40)} ${Math.round(target.width)}x${Math.round(target.height)}`); }
  }
  const poor = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || !shown(el) || el.closest("dialog:not([open]), [hidden], script, style")) { continue; }
    const s = getComputedStyle(el);
    const fg = rgba(s.color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) { poor.push(`${node.textContent.trim().slice(0, 40)}: ${ratio.toFixed(2)} < ${needed}`); }
  }
  return { small, poor };
}
