// What the web app drivers share: a fresh browser context per person (its own storage), sign
// in through the page, and the per-page checks: axe-core (serious and critical violations),
// the page in zh-CN and in English with no missing catalogue key, and a screenshot.
'use strict';

const path = require('node:path');

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

/** Signs `account` ({username, password}) in through the sign-in form. */
async function signIn(page, base, account) {
  await page.goto(`${base}/#/login`);
  await page.waitForSelector('#login-form');
  await page.fill('#login-form [name="username"]', account.username);
  await page.fill('#login-form [name="password"]', account.password);
  await page.click('#login-form button[type="submit"]');
  await page.waitForSelector('#sign-out');
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

module.exports = { newPage, signIn, checkPage, settle, switchLang };
