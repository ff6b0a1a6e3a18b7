// Form helpers: HTML escaping, userErrors shown next to the inputs they name, and the
// idempotency key a retried submit must reuse.

/** Text safe in HTML (element content and quoted attributes). */
export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

/** A plain decimal as the API accepts it ("12.5", "-3"; no exponent, no leading "+"). */
export const DECIMAL = /^-?\d+(\.\d+)?$/;

/** Removes every error shown in `form`. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error, .form-errors li')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const list = form.querySelector('.form-errors');
  if (list) list.hidden = true;
}

/**
 * Shows each error next to the input its `field` path names. `field` is the path the API
 * reports (["input", "lines", "1", "quantity"]); `translate` maps it to the form's own path
 * (e.g. the line's row when only some rows were sent). Inputs carry their path in
 * `data-field` ("input.lines.1.quantity"); an error whose exact input is missing goes to the
 * closest enclosing one ("input.lines.1" is the row), else to the form's error list.
 * Returns how many errors found a field.
 */
export function showErrors(form, userErrors, translate = (path) => path) {
  clearErrors(form);
  let placed = 0;
  for (const error of userErrors) {
    const path = translate(error.field ?? []).map(String);
    let target = null;
    for (let n = path.length; n > 0 && !target; n -= 1) {
      target = form.querySelector(`[data-field="${CSS.escape(path.slice(0, n).join('.'))}"]`);
    }
    const text = `${error.message} (${error.code})`;
    if (target) {
      const note = document.createElement('p');
      note.className = 'field-error';
      note.setAttribute('role', 'alert');
      note.dataset.errorFor = target.dataset.field;
      note.dataset.code = error.code;
      note.textContent = text;
      if (target.matches('input, select, textarea')) {
        target.setAttribute('aria-invalid', 'true');
        target.insertAdjacentElement('afterend', note);
      } else {
        target.appendChild(note);
      }
      placed += 1;
    } else {
      formError(form, text, error.code);
    }
  }
  form.querySelector('[aria-invalid]')?.focus();
  return placed;
}

/** Adds a message to the form's own error list (`.form-errors`). */
export function formError(form, text, code = '') {
  const list = form.querySelector('.form-errors');
  const item = document.createElement('li');
  item.textContent = text;
  if (code) item.dataset.code = code;
  list.appendChild(item);
  list.hidden = false;
}

/**
 * The idempotency key of a submit. A new key for every new attempt; the same key again when
 * the previous attempt with the same input ended without a definite answer (network error,
 * 5xx), so a retry can never receive twice. A definite answer (done, or userErrors, which
 * write nothing) ends the attempt.
 */
export class IdempotentSubmit {
  constructor() { this.pending = null; }

  keyFor(input) {
    const body = JSON.stringify(input);
    if (this.pending?.body !== body) this.pending = { body, key: newKey() };
    return this.pending.key;
  }

  /** The attempt got a definite answer. */
  settled() { this.pending = null; }

  /** True when the next submit with the same input is a retry. */
  get retrying() { return this.pending !== null; }
}

/** 128 random bits as hex (`crypto.randomUUID` exists only on HTTPS and loopback origins). */
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `rcv-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
