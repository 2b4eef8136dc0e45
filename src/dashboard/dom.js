// DOM helpers. Everything an agent, a worker or a user wrote reaches the page as text: strings become
// text nodes (never HTML), so an output holding <script> or <img onerror> is shown, not run.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An element with attributes (`on<event>` adds a listener) and children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text; null, undefined and false are skipped. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A status badge; the status is also a data attribute for styles and tests. */
export function statusBadge(status) {
  return h('span', { class: 'status', 'data-status': status }, status);
}

/** "12 s", "5 min", "3 h", "2 d" since an ISO time. */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** An ISO time as local "YYYY-MM-DD HH:MM:SS". */
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A value shown as text: strings as they are, the rest as indented JSON. */
export function asText(value) {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/** A preformatted block of untrusted text. */
export function textBlock(value, cls = 'text') {
  return h('pre', { class: cls }, asText(value ?? ''));
}

/** A definition list from [label, value] pairs (values as text or nodes). */
export function facts(pairs) {
  const dl = h('dl', { class: 'facts' });
  for (const [label, value] of pairs) {
    if (value === undefined) continue;
    dl.append(h('dt', {}, label), h('dd', {}, value ?? '—'));
  }
  return dl;
}

/** A short error line for a failed request. */
export function errorLine(error) {
  return h('p', { class: 'error', role: 'alert' }, error instanceof Error ? error.message : String(error));
}
