// The first-run driver of tests/web_app.rs: opens the one-time setup link printed by
// `yanxiu serve`, checks the page (axe-core, both languages, screenshot), creates the first
// system administrator through the form and reports where the app lands. Prints one JSON line:
//   {pages, landed, urlHasToken, failure}
//
// Usage: node web_setup.cjs <node_modules> <setup link> <username> <password> <shots dir>
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { launchChromium } = require('./harness.cjs');
const { checkPage, newPage } = require('./web_support.cjs');

const [modules, link, username, password, shots] = process.argv.slice(2);

async function main() {
  const report = { pages: {}, errors: [], landed: null, urlHasToken: null, failure: null };
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
    step = 'waiting for the admin pages';
    await page.waitForSelector('#user-list');
    await page.waitForSelector('#sign-out');
    report.landed = new URL(page.url()).hash.replace(/^#/, '');
    report.urlHasToken = page.url().includes('token=');
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => { console.error(e); process.exit(1); });
