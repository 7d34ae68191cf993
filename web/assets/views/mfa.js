// The caller's two-factor sign-in (/account/security): enrolling an authenticator app (QR
// code, the secret in groups, the otpauth URI, a first code), the ten recovery codes shown
// once (copy, download as text, "I have saved them"), the state of the second factor,
// replacing recovery codes or removing an optional authenticator with a current code, and
// the caller's own sign-in history. A session restricted to enrolment sees only the
// enrolment and goes on to its landing page once done. The API decides every step.
import { api } from '../api.js';
import { session, go, landing, refreshMe } from '../app.js';
import { t, dateTime } from '../i18n.js';
import { h, field, check, heading, messageBox, notice, label, badge, copyButton } from '../ui.js';
import { browserName } from './security.js';

/** The enrolment under way (kept across a re-render, e.g. a language switch; memory only). */
let pending = null;
/** Recovery codes waiting for "I have saved them" (memory only; shown this once), and where
 * to go then: {codes, then}. */
let unsaved = null;

window.addEventListener('yanxiu:sign-out', () => { pending = null; unsaved = null; });

/** The view of /account/security. */
export async function render() {
  const enrolling = session.me.restriction === 'mfa_enrolment';
  if (unsaved) return [heading(t('mfa.codes_title')), recoveryPanel()];
  const status = await api('GET', '/api/v1/me/mfa');
  if (enrolling || !status.enabled) {
    return [heading(t(enrolling ? 'mfa.enrol_title' : 'mfa.title')),
      enrolling ? h('p', { class: 'panel', id: 'mfa-required' }, t('mfa.required_intro')) : null,
      enrolment(status, enrolling),
      enrolling ? null : await history()];
  }
  return [heading(t('mfa.title')), state(status), replaceCodes(), status.required ? null : removeForm(),
    await history()];
}

function state(status) {
  return h('dl', { class: 'kv', id: 'mfa-status', dataset: { enabled: String(status.enabled) } },
    h('dt', {}, t('mfa.state')), h('dd', {}, badge('mfa_state', status.enabled ? 'on' : 'off')),
    h('dt', {}, t('mfa.since')), h('dd', {}, dateTime(status.confirmed_at)),
    h('dt', {}, t('mfa.codes_left')), h('dd', { id: 'mfa-codes-left' }, String(status.recovery_codes_left)),
    h('dt', {}, t('mfa.required')), h('dd', {}, t(status.required ? 'mfa.required_yes' : 'mfa.required_no')));
}

/** Start (or see again) the enrolment, then confirm it with a first code. */
function enrolment(status, enrolling) {
  const box = h('section', { id: 'mfa-enrol', 'aria-labelledby': 'mfa-enrol-h' });
  const msg = messageBox();
  const start = async () => {
    msg.clear();
    try {
      pending = await api('POST', '/api/v1/me/mfa/totp');
      draw();
      const code = box.querySelector('#mfa-code');
      if (code) code.focus();
    } catch (e) { msg.show(e); }
  };
  const draw = () => {
    if (!pending) {
      box.replaceChildren(h('h2', { id: 'mfa-enrol-h' }, t('mfa.step_app')),
        h('p', {}, t(enrolling || status.required ? 'mfa.intro_required' : 'mfa.intro_optional')),
        h('p', {}, t('mfa.apps')), msg.el,
        h('div', {}, h('button', { type: 'button', id: 'mfa-start', onclick: start }, t('mfa.start'))));
      return;
    }
    box.replaceChildren(h('h2', { id: 'mfa-enrol-h' }, t('mfa.step_scan')), scanPanel(pending), confirmForm(msg),
      h('p', {}, h('button', { type: 'button', class: 'link', id: 'mfa-restart', onclick: start }, t('mfa.restart'))));
  };
  draw();
  return box;
}

/** The QR code (the server's SVG as an image: never parsed into the page), the secret and the
 * URI, each with a copy button. */
function scanPanel(p) {
  const secret = p.secret;
  const plain = secret.replace(/\s+/g, '');
  const qr = p.qr_svg
    ? h('img', { id: 'mfa-qr', class: 'qr', width: '200', height: '200', alt: t('mfa.qr_alt'),
      src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(p.qr_svg)}` })
    : h('p', { class: 'muted' }, t('mfa.no_qr'));
  return h('div', { class: 'grid2 mfa-scan' }, h('div', {}, h('p', {}, t('mfa.scan')), qr),
    h('div', { class: 'stack' },
      h('p', {}, t('mfa.type_instead')),
      h('p', { class: 'secret', id: 'mfa-secret', 'aria-label': t('mfa.secret') }, secret),
      h('div', {}, copyButton(plain, t('mfa.secret'))),
      h('details', { class: 'panel' }, h('summary', {}, t('mfa.uri')),
        h('p', {}, h('code', { id: 'mfa-uri' }, p.otpauth_uri)), copyButton(p.otpauth_uri, t('mfa.uri')))));
}

function codeInput(id) {
  return h('input', { type: 'text', id, name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric',
    pattern: '[0-9 ]{6,7}', maxlength: '7', required: true });
}

function confirmForm(msg) {
  const code = codeInput('mfa-code');
  const form = h('form', { class: 'stack', id: 'mfa-confirm-form' }, h('h2', {}, t('mfa.step_confirm')),
    field(t('mfa.first_code'), code, t('mfa.first_code_hint')), msg.el,
    h('div', {}, h('button', { type: 'submit' }, t('mfa.confirm'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    try {
      const answer = await api('POST', '/api/v1/me/mfa/totp/confirm', { code: code.value.trim() });
      pending = null;
      unsaved = { codes: answer.recovery_codes, then: landing };
      notice(t('mfa.enabled_notice'));
      await refreshMe();
      go('/account/security');
    } catch (e) { msg.show(e); code.select(); }
  });
  return form;
}

/** The recovery codes, this once: copy, download, and "I have saved them" to go on. */
function recoveryPanel() {
  const { codes, then } = unsaved;
  const text = `${t('mfa.codes_file_title', { name: session.me.username })}\n\n${codes.join('\n')}\n`;
  const saved = h('input', { type: 'checkbox', id: 'mfa-saved' });
  const next = h('button', { type: 'button', id: 'mfa-continue', disabled: true }, t('mfa.continue'));
  saved.addEventListener('change', () => { next.disabled = !saved.checked; });
  next.addEventListener('click', () => {
    unsaved = null;
    go(then());
  });
  const download = h('button', { type: 'button', class: 'secondary', id: 'mfa-download' }, t('mfa.download'));
  download.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
    const a = h('a', { href: url, download: `yanxiu-recovery-codes-${session.me.username}.txt` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  return h('section', { id: 'mfa-codes', class: 'stack' },
    h('p', { role: 'alert', class: 'ok' }, t('mfa.codes_intro')),
    h('ol', { id: 'recovery-codes', class: 'codes' }, codes.map((c) => h('li', {}, h('code', {}, c)))),
    h('div', { class: 'row' }, copyButton(codes.join('\n'), t('mfa.codes')), download),
    check(t('mfa.saved'), saved), h('div', {}, next));
}

/** New recovery codes (the old ones stop working), with a current code. */
function replaceCodes() {
  const code = codeInput('mfa-replace-code');
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'mfa-replace-form' }, h('h2', {}, t('mfa.replace_title')),
    h('p', {}, t('mfa.replace_intro')), field(t('auth.code'), code), msg.el,
    h('div', {}, h('button', { type: 'submit' }, t('mfa.replace'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    try {
      const answer = await api('POST', '/api/v1/me/mfa/recovery-codes', { code: code.value.trim() });
      unsaved = { codes: answer.recovery_codes, then: () => '/account/security' };
      go('/account/security');
    } catch (e) { msg.show(e); code.select(); }
  });
  return form;
}

/** Turns an optional authenticator off (reviewers and administrators must keep theirs). */
function removeForm() {
  const code = codeInput('mfa-remove-code');
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'mfa-remove-form' }, h('h2', {}, t('mfa.remove_title')),
    field(t('auth.code'), code), msg.el,
    h('div', {}, h('button', { type: 'submit', class: 'danger' }, t('mfa.remove'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    if (!window.confirm(t('mfa.remove_confirm'))) return;
    try {
      await api('POST', '/api/v1/me/mfa/remove', { code: code.value.trim() });
      notice(t('mfa.removed'));
      go('/account/security');
    } catch (e) { msg.show(e); code.select(); }
  });
  return form;
}

const PER_PAGE = 10;

/** A paged table of sign-ins (the caller's own, or any account's for the security admin). */
export async function signInTable(path, id) {
  const box = h('div', { class: 'table-wrap', id });
  const msg = messageBox();
  const load = async (page) => {
    let data;
    try { data = await api('GET', `${path}?page=${page}&per_page=${PER_PAGE}`); } catch (e) { msg.show(e); return; }
    const pages = Math.max(1, Math.ceil(data.total / PER_PAGE));
    const nav = h('div', { class: 'row pager' },
      h('button', { type: 'button', class: 'secondary', disabled: page <= 1, onclick: () => load(page - 1) }, t('common.previous')),
      h('span', {}, t('common.page_of', { page, pages })),
      h('button', { type: 'button', class: 'secondary', disabled: page >= pages, onclick: () => load(page + 1) }, t('common.next')));
    if (!data.items.length) { box.replaceChildren(h('p', { class: 'muted empty' }, t('mfa.no_sign_ins'))); return; }
    box.replaceChildren(h('table', {}, h('caption', { class: 'sr-only' }, t('mfa.history')),
      h('thead', {}, h('tr', {}, ...['mfa.when', 'security.address', 'security.browser', 'mfa.outcome']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, data.items.map((s) => h('tr', { dataset: { outcome: s.outcome } },
        h('td', {}, dateTime(s.at)),
        h('td', {}, s.source_addr || '—', s.new_address ? h('span', { class: 'badge' }, t('mfa.new_address')) : null),
        h('td', { title: s.user_agent || '' }, browserName(s.user_agent)),
        h('td', {}, badge('sign_in', s.outcome), s.reason ? ` ${label('sign_in_reason', s.reason)}` : ''))))), nav);
  };
  await load(1);
  return h('div', {}, msg.el, box);
}

async function history() {
  return h('section', { 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h' }, t('mfa.history')),
    h('p', { class: 'muted' }, t('mfa.history_intro')), await signInTable('/api/v1/me/sign-ins', 'sign-in-history'));
}
