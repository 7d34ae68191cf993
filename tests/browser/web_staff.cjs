// Staff sign-in steps of the web journey (web_journey.cjs): the first enrolment of a second
// factor through the page (checked like every page, recovery codes shown once), the
// two-step sign-in page with the sign-in history and new recovery codes, the system admin's
// settings page (a bound refused, a section changed, back to the file's value), signing in
// again with a TOTP code (and a replayed code refused), the security admin's reset of another
// account's second factor, a sign-in with a recovery code, and an expired password changed
// (a reused one refused, in both languages) before the enrolment. Codes come from
// web_support.cjs (computed in the test from the secret the page shows).
'use strict';

const { checkPage, signIn, enrol, settle, switchLang, nextCode, usedCode, authenticators } = require('./web_support.cjs');

/** Text of the alert in `scope` once it has some. */
async function alertText(page, scope) {
  const sel = `${scope} [role="alert"]`;
  await page.waitForFunction((s) => {
    const el = document.querySelector(s);
    return el && el.textContent.trim().length > 0;
  }, sel);
  return (await page.locator(sel).first().innerText()).trim();
}

/** The first sign-in of a reviewer: the enrolment page (checked at the QR step and at the
 * recovery codes), then the landing page. */
async function firstEnrolment(ctx, page, account) {
  const out = { page: {} };
  out.landed = await signIn(page, ctx.base, account, {
    enrol: {
      report: out.page,
      atScan: async () => {
        out.menu = await page.locator('#nav a').allInnerTexts();
        out.notice = await page.locator('#notice').innerText();
        await checkPage(ctx, page, 'enrol', { english: true });
      },
      atCodes: () => checkPage(ctx, page, 'enrol-codes'),
    },
  });
  return out;
}

/** The two-step sign-in page of an enrolled reviewer: state, history, codes not shown again,
 * then ten new recovery codes with a current code. */
async function accountSecurity(ctx, page, account) {
  const out = {};
  await page.click('#nav a[href="#/account"]');
  await page.waitForSelector('#account-mfa');
  out.accountSays = await page.locator('#account-mfa').getAttribute('data-enabled');
  await page.click('#account-security-link');
  await page.waitForSelector('#sign-in-history tbody tr');
  out.codesShownAgain = await page.locator('#recovery-codes').count();
  out.codesLeft = await page.locator('#mfa-codes-left').innerText();
  out.historyRows = await page.locator('#sign-in-history tbody tr').count();
  out.historyFirst = await page.locator('#sign-in-history tbody tr').first().innerText();
  await checkPage(ctx, page, 'account-security', { english: true });
  const user = account.username;
  const before = authenticators.get(user).recovery.slice();
  await page.fill('#mfa-replace-code', await nextCode(user));
  await page.click('#mfa-replace-form button[type="submit"]');
  await page.waitForSelector('#recovery-codes li');
  const fresh = (await page.locator('#recovery-codes li').allInnerTexts()).map((c) => c.trim());
  out.newCodes = fresh.length;
  out.newCodesDiffer = fresh.every((c) => !before.includes(c));
  authenticators.get(user).recovery = fresh;
  await page.check('#mfa-saved');
  await page.click('#mfa-continue');
  await page.waitForSelector('#mfa-status');
  await page.reload();
  await page.waitForSelector('#mfa-status');
  out.codesAfterReload = await page.locator('#recovery-codes').count();
  return out;
}

/** The settings page: the password section refused out of bounds, changed, shown as changed
 * by this admin, then put back to the config file's value. */
async function settings(ctx, page) {
  const out = {};
  out.inMenu = await page.locator('#nav a[href="#/admin/settings"]').count();
  await page.click('#nav a[href="#/admin/settings"]');
  await page.waitForSelector('#settings-password');
  out.sections = await page.locator('#settings form').evaluateAll((fs) => fs.map((f) => f.id.replace('settings-', '')));
  await checkPage(ctx, page, 'admin-settings', { english: true });
  const input = '#settings-password [name="password.min_length"]';
  out.before = await page.inputValue(input);
  await page.fill(input, '200');
  await page.click('#settings-password button[type="submit"]');
  out.boundError = await alertText(page, '#settings-password');
  await page.fill(input, '12');
  await page.click('#settings-password button[type="submit"]');
  await page.waitForSelector('#settings-password[data-changed="true"]');
  out.changedValue = await page.inputValue(input);
  out.changedText = await page.locator('#settings-password .changed').innerText();
  await page.reload();
  await page.waitForSelector('#settings-password[data-changed="true"]');
  out.valueAfterReload = await page.inputValue(input);
  await checkPage(ctx, page, 'admin-settings-changed', { scrollTo: '#settings-password' });
  await page.click('#settings-password [data-action="reset"]');
  await page.waitForSelector('#settings-password[data-changed="false"]');
  out.resetValue = await page.inputValue(input);
  out.resetDisabled = await page.locator('#settings-password [data-action="reset"]').isDisabled();
  return out;
}

/** Signs out and in again: first with the code used last (refused as replayed), then with a
 * fresh one. */
async function signInAgain(page, base, account) {
  const out = {};
  await page.click('#sign-out');
  await page.waitForSelector('#login-form');
  await page.fill('#login-form [name="username"]', account.username);
  await page.fill('#login-form [name="password"]', account.password);
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector('#second-factor-form');
  await page.fill('#second-factor-form [name="code"]', usedCode(account.username));
  await page.click('#second-factor-form button[type="submit"]');
  out.replayed = await alertText(page, '#second-factor-form');
  await page.fill('#second-factor-form [name="code"]', await nextCode(account.username));
  await page.click('#second-factor-form button[type="submit"]');
  await page.waitForSelector('#sign-out');
  await settle(page);
  out.landed = await page.evaluate(() => document.getElementById('main').dataset.route);
  return out;
}

/** The security admin resets `username`'s second factor (confirmed in a dialog); the page
 * `victim` signed in as that account is signed out. */
async function resetSecondFactor(page, username, victim) {
  const out = {};
  const value = await page.evaluate((u) => [...document.querySelectorAll('#account-choice option')]
    .find((o) => o.textContent.endsWith(`(${u})`)).value, username);
  await page.selectOption('#account-choice', value);
  await page.waitForSelector('#account-sign-ins tbody tr');
  out.historyRows = await page.locator('#account-sign-ins tbody tr').count();
  let asked = null;
  page.once('dialog', (d) => { asked = d.message(); d.accept(); });
  await page.click('#mfa-reset');
  await page.waitForFunction((u) => document.getElementById('notice').textContent.includes(u), username);
  out.confirmAsked = asked !== null && asked.includes(username);
  out.notice = await page.locator('#notice').innerText();
  out.victimStatus = await victim.evaluate(async () => (await fetch('/api/v1/me', {
    headers: { Authorization: `Bearer ${sessionStorage.getItem('yanxiu.token')}` } })).status);
  return out;
}

/** Signs in with a recovery code; the page then says one fewer is left. */
async function recoverySignIn(page, base, account) {
  const out = {};
  out.landed = await signIn(page, base, account, { recovery: true });
  await page.goto(`${base}/#/account/security`);
  await page.waitForSelector('#mfa-codes-left');
  out.codesLeft = await page.locator('#mfa-codes-left').innerText();
  return out;
}

/** An account whose password expired: the page asks for a new one, refuses the current one
 * again (zh-CN and English), takes `renewed`, then asks for the enrolment. */
async function expiredPassword(ctx, page, base, account, renewed) {
  const out = {};
  out.state = await signIn(page, base, account);
  out.notice = await page.locator('#notice').innerText();
  out.route = await page.evaluate(() => document.getElementById('main').dataset.route);
  out.menu = await page.locator('#nav a').allInnerTexts();
  await checkPage(ctx, page, 'password-expired', { english: true });
  const reuse = async () => {
    await page.fill('#password-form input[autocomplete="current-password"]', account.password);
    await page.fill('#password-form input[autocomplete="new-password"]', account.password);
    await page.click('#password-form button[type="submit"]');
    const text = await alertText(page, '#password-form');
    await page.evaluate(() => { document.querySelector('#password-form [role="alert"]').textContent = ''; });
    return text;
  };
  out.reused = await reuse();
  await switchLang(page, 'en');
  out.reusedEn = await reuse();
  await switchLang(page, 'zh-CN');
  out.elsewhere = await page.evaluate(async () => {
    const r = await fetch('/api/v1/resources', { headers: { Authorization: `Bearer ${sessionStorage.getItem('yanxiu.token')}` } });
    return { status: r.status, code: ((await r.json()).error || {}).code };
  });
  await page.fill('#password-form input[autocomplete="current-password"]', account.password);
  await page.fill('#password-form input[autocomplete="new-password"]', renewed);
  await page.click('#password-form button[type="submit"]');
  await page.waitForSelector('#mfa-start');
  account.password = renewed;
  out.thenEnrol = true;
  out.landed = await enrol(page, account.username);
  return out;
}

module.exports = { firstEnrolment, accountSecurity, settings, signInAgain, resetSecondFactor, recoverySignIn, expiredPassword };
