// The first-run driver of tests/web_app.rs: opens the one-time setup link printed by
// `yanxiu serve`, checks the page (axe-core, both languages, screenshot), creates the first
// system administrator through the form, enrols the second factor the new administrator must
// have before anything else (the page it lands on), reports where the app lands then, and
// signs out and in again with a TOTP code computed here. Prints one JSON line:
//   {pages, firstPage, enrolment, landed, urlHasToken, again, failure}
//
// Usage: node web_setup.cjs <node_modules> <setup link> <username> <password> <shots dir>
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { launchChromium } = require('./harness.cjs');
const { checkPage, newPage, enrol, signIn, settle } = require('./web_support.cjs');

const [modules, link, username, password, shots] = process.argv.slice(2);

async function main() {
  const report = { pages: {}, errors: [], firstPage: null, enrolment: {}, landed: null, urlHasToken: null, again: null, failure: null };
  const browser = await launchChromium(modules);
  const ctx = { browser, shots, report, axeSource: fs.readFileSync(path.join(modules, 'axe-core', 'axe.min.js'), 'utf8') };
  let step = 'opening the setup link';
  try {
    const page = await newPage(ctx);
    await page.goto(link);
    await page.waitForSelector('#setup-form');
    await checkPage(ctx, page, 'setup');
    step = 'filling the form';
    await page.fill('#setup-form [name="username"]', username);
    await page.fill('#setup-form [name="display_name"]', '平台管理员');
    await page.fill('#setup-form [name="password"]', password);
    await page.fill('#setup-form [name="password_again"]', password);
    await page.click('#setup-form button[type="submit"]');
    step = 'waiting for the enrolment page';
    await page.waitForSelector('#mfa-start');
    await settle(page);
    report.firstPage = new URL(page.url()).hash.replace(/^#/, '');
    report.urlHasToken = page.url().includes('token=');
    step = 'enrolling the second factor';
    await enrol(page, username, { report: report.enrolment });
    step = 'waiting for the admin pages';
    await page.waitForSelector('#user-list');
    report.landed = new URL(page.url()).hash.replace(/^#/, '');
    step = 'signing out and in again with a TOTP code';
    await page.click('#sign-out');
    await page.waitForSelector('#login-form');
    report.again = await signIn(page, new URL(link).origin, { username, password });
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => { console.error(e); process.exit(1); });
