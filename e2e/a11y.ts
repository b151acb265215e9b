// Accessibility and layout checks run inside the page (page.evaluate): text contrast computed
// from the styles (WCAG 2 relative luminance, backgrounds composited up the tree), labels of
// form fields, names of links, buttons and images, and horizontal overflow.

export interface AuditResult {
  contrast: string[];
  unlabelled: string[];
  overflow: { scrollWidth: number; clientWidth: number } | null;
  headings: number;
  lang: string;
}

/** Runs in the browser: must not close over anything. */
export function auditPage(): AuditResult {
  type Rgba = { r: number; g: number; b: number; a: number };
  const parse = (c: string): Rgba => {
    const m = /rgba?\(([^)]+)\)/.exec(c);
    if (!m) return { r: 0, g: 0, b: 0, a: 0 };
    const p = m[1]!.split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0]!, g: p[1]!, b: p[2]!, a: p[3] ?? 1 };
  };
  const over = (top: Rgba, below: Rgba): Rgba => ({
    r: top.r * top.a + below.r * (1 - top.a), g: top.g * top.a + below.g * (1 - top.a), b: top.b * top.a + below.b * (1 - top.a), a: 1,
  });
  const background = (el: Element): Rgba => {
    const layers: Rgba[] = [];
    for (let e: Element | null = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) layers.push(c);
      if (c.a >= 1) break;
    }
    let out: Rgba = { r: 255, g: 255, b: 255, a: 1 };
    for (const l of layers.reverse()) out = over(l, out);
    return out;
  };
  const lum = (c: Rgba) => {
    const f = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const visible = (el: Element) => {
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    return r.width > 1 && r.height > 1 && st.visibility !== 'hidden' && st.display !== 'none' && !el.closest('[aria-hidden="true"]');
  };
  const describe = (el: Element) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : ''} "${(el.textContent ?? '').trim().slice(0, 40)}"`;

  const contrast: string[] = [];
  for (const el of document.querySelectorAll('body *')) {
    const hasText = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim());
    if (!hasText || !visible(el)) continue;
    const st = getComputedStyle(el);
    const bg = background(el);
    const fg = over(parse(st.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a) as [number, number];
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(st.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) contrast.push(`${describe(el)}: ${ratio.toFixed(2)}:1`);
  }

  const unlabelled: string[] = [];
  for (const el of document.querySelectorAll<HTMLInputElement>('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    if (!el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) unlabelled.push(describe(el));
  }
  for (const el of document.querySelectorAll('a, button')) {
    if (visible(el) && !(el.textContent ?? '').trim() && !el.getAttribute('aria-label')) unlabelled.push(describe(el));
  }
  for (const el of document.querySelectorAll('img')) if (!el.hasAttribute('alt')) unlabelled.push(describe(el));
  for (const el of document.querySelectorAll('svg[role="img"]')) if (!el.getAttribute('aria-label')) unlabelled.push(describe(el));

  const root = document.documentElement;
  return {
    contrast,
    unlabelled,
    overflow: root.scrollWidth > root.clientWidth ? { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth } : null,
    headings: document.querySelectorAll('h1').length,
    lang: root.lang,
  };
}
