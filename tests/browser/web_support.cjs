// What the web app drivers share: a fresh browser context per person (its own storage), sign
// in through the page (answering the second step with a TOTP code, and enrolling an
// authenticator through the page when the account must have one), and the per-page checks:
// axe-core (serious and critical violations), the page in zh-CN and in English with no missing
// catalogue key, and a screenshot.
//
// TOTP codes are computed here (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits, with Node's
// crypto), from the secret the enrolment page shows, never from the server. The server accepts
// one code per time step (±1 step of skew) and never a step at or before the last one used, so
// each account's last step is kept and the next code is the current step's, or the next
// step's once that is used; only a third code within one step waits for the next. (The
// earliest step of the skew would spare some waits, but a code used at the window's edge
// leaves it before a replay of it can be shown refused as a replay.)
'use strict';

const crypto = require('node:crypto');
const path = require('node:path');

/** username → {secret (bytes), last (the last step used), recovery (codes not yet used)}. */
const authenticators = new Map();
/** How many codes were computed and how long sign-ins waited for a new time step. */
const totpStats = { codes: 0, waits: 0, waitedMs: 0 };

/** The bytes of an RFC 4648 base32 text (spaces and padding ignored). */
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}

/** The 6-digit TOTP code of `secret` for time step `step` (RFC 4226 dynamic truncation). */
function totpCode(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(n % 1000000).padStart(6, '0');
}

/** Keeps the authenticator of `username` (its base32 secret as the page shows it). */
function remember(username, base32) {
  authenticators.set(username, { secret: base32Decode(base32), last: -1, recovery: [] });
}

/** A code for `username` the server has not seen and will accept when it arrives: the
 * current step's or, once used, the next step's (the server allows ±1 step), so that a code
 * just used stays inside the window long enough to be shown refused as a replay. */
async function nextCode(username) {
  const a = authenticators.get(username);
  if (!a) throw new Error(`${username} has no authenticator in this test`);
  for (;;) {
    const now = Date.now();
    const step = Math.max(a.last + 1, Math.floor((now + 2000) / 30000));
    if (step <= Math.floor(now / 30000) + 1) {
      a.last = step;
      totpStats.codes += 1;
      return totpCode(a.secret, step);
    }
    const wait = 30000 - (now % 30000) + 100;
    totpStats.waits += 1;
    totpStats.waitedMs += wait;
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** A code `username` already used (the server must refuse it as replayed). */
function usedCode(username) {
  const a = authenticators.get(username);
  return totpCode(a.secret, a.last);
}

/** A page in a fresh context, desktop or `phone` sized (CSP bypassed only so that axe-core
 * can be injected). */
async function newPage(ctx, phone) {
  const size = phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }
    : { viewport: { width: 1200, height: 900 } };
  const context = await ctx.browser.newContext({ bypassCSP: true, ...size });
  const page = await context.newPage();
  page.setDefaultTimeout(60000); // the test machine's two cores are shared with builds
  if (ctx.pages) ctx.pages.push(page);
  page.on('pageerror', (e) => ctx.report.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`page console: ${m.text()}`); });
  return page;
}

/** Signs `account` ({username, password}) in through the sign-in form: the second step with
 * a TOTP code (or, with `options.recovery`, one of the account's recovery codes), and the
 * enrolment when the account must have a second factor and has none (`options.enrol` is
 * passed on to [`enrol`]). Returns 'expired' when the page asks for a new password first
 * (the caller changes it, then calls [`enrol`] if needed); otherwise the route landed on. */
async function signIn(page, base, account, options = {}) {
  await page.goto(`${base}/#/login`);
  await page.waitForSelector('#login-form');
  await page.fill('#login-form [name="username"]', account.username);
  await page.fill('#login-form [name="password"]', account.password);
  await page.click('#login-form button[type="submit"]');
  // Signed in once the page leaves /login (a page signed out by the server may still show the
  // old header until then), or asked for the second step.
  const away = () => page.waitForFunction(() => document.getElementById('second-factor-form')
    || (document.getElementById('main').dataset.route !== '/login' && document.getElementById('sign-out')));
  await away();
  if (await page.locator('#second-factor-form').count()) {
    if (options.recovery) {
      await page.check('#second-factor-form [name="use_recovery"]');
      await page.fill('#second-factor-form [name="code"]', authenticators.get(account.username).recovery.shift());
    } else {
      await page.fill('#second-factor-form [name="code"]', await nextCode(account.username));
    }
    await page.click('#second-factor-form button[type="submit"]');
    await page.waitForFunction(() => !document.getElementById('second-factor-form')
      && document.getElementById('main').dataset.route !== '/login' && document.getElementById('sign-out'));
  }
  await settle(page);
  if (await page.locator('#password-expired').count()) return 'expired';
  if (await page.locator('#mfa-start').count()) return enrol(page, account.username, options.enrol || {});
  return route(page);
}

/** The route the page shows. */
function route(page) {
  return page.evaluate(() => document.getElementById('main').dataset.route);
}

/** Enrols `username` through the enrolment page (shown to a session restricted to it): start,
 * read the secret the page shows, confirm with a code computed here, keep the recovery codes,
 * "I have saved them", continue. `options.atScan` and `options.atCodes` run at those two
 * steps (page checks). Returns the route landed on; the recovery codes are kept for
 * [`signIn`] with `recovery`, and `options.report` gets what the page showed. */
async function enrol(page, username, options = {}) {
  await page.click('#mfa-start');
  await page.waitForSelector('#mfa-secret');
  const secret = await page.locator('#mfa-secret').innerText();
  const uri = await page.locator('#mfa-uri').textContent();
  const qr = await page.evaluate(() => {
    const img = document.getElementById('mfa-qr');
    return img ? { tag: img.tagName, dataUrl: img.src.startsWith('data:image/svg+xml'), width: img.naturalWidth, alt: img.alt } : null;
  });
  if (options.atScan) await options.atScan();
  remember(username, secret);
  await page.fill('#mfa-code', await nextCode(username));
  await page.click('#mfa-confirm-form button[type="submit"]');
  await page.waitForSelector('#recovery-codes li');
  const codes = await page.locator('#recovery-codes li').allInnerTexts();
  authenticators.get(username).recovery = codes.map((c) => c.trim());
  if (options.atCodes) await options.atCodes();
  const continueDisabled = await page.locator('#mfa-continue').isDisabled();
  await page.check('#mfa-saved');
  await page.click('#mfa-continue');
  await page.waitForFunction(() => !document.getElementById('recovery-codes')
    && document.getElementById('main').dataset.route !== '/account/security');
  await settle(page);
  if (options.report) {
    Object.assign(options.report, {
      secretGroups: secret.trim().split(/\s+/).length,
      uriHasSecret: uri.includes(`secret=${secret.replace(/\s+/g, '')}`),
      qr, codes: codes.length, continueDisabled,
    });
  }
  return route(page);
}

/** Waits for the view to settle: the app is ready and no request is in flight. */
async function settle(page) {
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForFunction(() => {
    const route = location.pathname === '/setup' ? '/setup' : (location.hash.replace(/^#/, '').split('?')[0] || '/');
    return document.getElementById('main').dataset.route === route;
  });
  await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
}

/** Runs axe-core on the page: the serious and critical violations. */
async function axe(ctx, page) {
  await page.addScriptTag({ content: ctx.axeSource });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}

/** Switches the language through the header's menu and waits for the view to render again. */
async function switchLang(page, tag) {
  const before = await page.evaluate(() => document.getElementById('main').dataset.rendered);
  await page.selectOption('#lang-select', tag);
  await page.waitForFunction(([t, b]) => document.documentElement.lang === t
    && document.getElementById('main').dataset.rendered !== b, [tag, before]);
  await settle(page);
}

/** Scrolls to the top, or brings `selector` to the top of the viewport. */
async function scrollFor(page, selector) {
  await page.evaluate((sel) => {
    const el = sel && document.querySelector(sel);
    if (el) el.scrollIntoView({ block: 'start' }); else window.scrollTo(0, 0);
  }, selector || null);
}

/** The checks of one page, recorded under `name` in the report; the screenshot shows the top
 * of the page, or `options.scrollTo` (a selector) at the top of the viewport. */
async function checkPage(ctx, page, name, options = {}) {
  await settle(page);
  const entry = { axe: await axe(ctx, page) };
  await scrollFor(page, options.scrollTo);
  await page.screenshot({ path: path.join(ctx.shots, `${name}.png`), fullPage: false });
  await switchLang(page, 'en');
  entry.axeEn = await axe(ctx, page);
  if (name === 'catalogue' || name === 'resource-producer' || options.english) {
    await scrollFor(page, options.scrollTo);
    await page.screenshot({ path: path.join(ctx.shots, `${name}.en.png`), fullPage: false });
  }
  await switchLang(page, 'zh-CN');
  entry.missing = await page.evaluate(() => window.yanxiuMissingKeys);
  entry.title = await page.title();
  ctx.report.pages[name] = entry;
}

module.exports = { newPage, signIn, enrol, checkPage, settle, switchLang, nextCode, usedCode, totpCode, base32Decode, authenticators, totpStats };
