// Sign in (the API's own words for lockouts and the session limit) and the first-run
// setup page that creates the first system administrator with the console's one-time link.
// A session the API restricts goes on to the page lifting the restriction (enrolment of a
// second factor, or changing an expired password).
import { api, ApiError } from '../api.js';
import { go, startPage, signedIn, restrictionNotice, render as rerender } from '../app.js';
import { t } from '../i18n.js';
import { h, field, heading, messageBox, notice } from '../ui.js';

/** The view of /login and /setup. */
export async function render(ctx) {
  return ctx.path === '/setup' ? setup(ctx) : login(ctx);
}

function login(ctx) {
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'login-form' },
    field(t('auth.username'), user), field(t('auth.password'), pass), msg.el,
    h('div', {}, h('button', { type: 'submit' }, t('auth.sign_in'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    try {
      const answer = await api('POST', '/api/v1/sessions', { username: user.value.trim(), password: pass.value });
      if (answer.challenge) {
        form.replaceWith(secondStep(ctx, answer.challenge));
        return;
      }
      await welcome(ctx, answer);
    } catch (e) {
      msg.show(e);
      pass.select();
    }
  });
  return [heading(t('auth.sign_in_title')), form, h('p', { class: 'muted' }, t('auth.one_person'))];
}

async function welcome(ctx, grant) {
  await signedIn(grant.token);
  notice(restrictionNotice() || t('auth.welcome', { name: grant.user.display_name || grant.user.username }));
  go(startPage(ctx.query.get('next')));
}

// The second sign-in step: a code from the authenticator app, or a recovery code.
function secondStep(ctx, challenge) {
  const code = h('input', { type: 'text', name: 'code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true });
  const recovery = h('input', { type: 'checkbox', name: 'use_recovery' });
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'second-factor-form' },
    h('p', {}, t('auth.second_factor_intro')),
    field(t('auth.code'), code),
    h('label', {}, recovery, ' ', t('auth.use_recovery_code')), msg.el,
    h('div', {}, h('button', { type: 'submit' }, t('auth.verify'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    const body = recovery.checked
      ? { challenge, recovery_code: code.value.trim() }
      : { challenge, code: code.value.trim() };
    try {
      await welcome(ctx, await api('POST', '/api/v1/sessions/second-factor', body));
    } catch (e) {
      msg.show(e);
      code.select();
    }
  });
  return form;
}

function setup(ctx) {
  const token = ctx.query.get('token') || '';
  const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, value: 'admin' });
  const display = h('input', { type: 'text', name: 'display_name', autocomplete: 'name' });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { type: 'password', name: 'password_again', autocomplete: 'new-password', required: true });
  const msg = messageBox();
  const form = h('form', { class: 'stack', id: 'setup-form' },
    field(t('auth.username'), user), field(t('setup.display_name'), display),
    field(t('auth.password'), pass, t('setup.password_hint')), field(t('setup.password_again'), again), msg.el,
    h('div', {}, h('button', { type: 'submit' }, t('setup.create'))));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.clear();
    if (pass.value !== again.value) { msg.show(t('setup.mismatch')); again.focus(); return; }
    try {
      await api('POST', '/setup', { token, username: user.value.trim(), display_name: display.value.trim() || null, password: pass.value });
      const grant = await api('POST', '/api/v1/sessions', { username: user.value.trim(), password: pass.value });
      await signedIn(grant.token);
      notice(`${t('setup.done')} ${restrictionNotice() || ''}`.trim());
      // The first administrator must enrol a second factor before anything else.
      history.replaceState(null, '', `/#${startPage()}`);
      rerender();
    } catch (e) {
      msg.show(e instanceof ApiError ? e : t('error.generic'));
    }
  });
  return [heading(t('setup.title')), h('p', {}, t('setup.intro')),
    token ? form : h('p', { role: 'alert', class: 'error' }, t('setup.no_token'))];
}
