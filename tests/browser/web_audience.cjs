// The audience driver of tests/web_app.rs: the members of an audience managed through the
// page. A learner reads their account id on their account page; the organiser creates an
// audience and, since the API lets organisers manage audiences but not look accounts up, adds
// the learner by that id; the department admin, who may list the department's accounts, sees
// the members by name, finds the producer by typing part of the name and adds them, and
// removes the learner. Every page is checked (axe-core, both languages, screenshot). Prints
// one JSON line:
//   {pages, learnerId, organiser: {...}, admin: {...}, errors, failure}
//
// Usage: node web_audience.cjs <node_modules> <base URL> <accounts.json> <shots dir>
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { launchChromium } = require('./harness.cjs');
const { checkPage, signIn, newPage } = require('./web_support.cjs');

const [modules, base, accountsFile, shots] = process.argv.slice(2);
const accounts = JSON.parse(fs.readFileSync(accountsFile, 'utf8'));
const AUDIENCE = '物理组听课教师';

async function main() {
  const report = { pages: {}, errors: [], learnerId: null, organiser: {}, admin: {}, failure: null };
  const browser = await launchChromium(modules);
  const ctx = { browser, base, shots, report, pages: [], axeSource: fs.readFileSync(path.join(modules, 'axe-core', 'axe.min.js'), 'utf8') };
  let step = 'the learner reads their account id';
  try {
    const learner = await newPage(ctx);
    await signIn(learner, base, accounts.learner);
    await learner.goto(`${base}/#/account`);
    await learner.waitForSelector('#account-id');
    report.learnerId = await learner.locator('#account-id').innerText();

    step = 'the organiser creates an audience';
    const org = await newPage(ctx);
    await signIn(org, base, accounts.event_organiser);
    await org.waitForSelector('#audience-form');
    await org.fill('#audience-name', AUDIENCE);
    await org.click('#audience-form button[type="submit"]');
    await org.click(`#audience-list a:text-is("${AUDIENCE}")`);
    step = 'the organiser adds the learner by account id';
    await org.waitForSelector('#member-form');
    report.organiser.lookupNote = await org.locator('#member-lookup-note').count() === 1;
    report.organiser.searchOffered = await org.locator('#member-search').count() === 1;
    await org.fill('#member-id', report.learnerId);
    await org.click('#member-form button[type="submit"]');
    await org.waitForSelector(`#member-list tr[data-user="${report.learnerId}"]`);
    report.organiser.members = await org.locator('#member-list tbody tr').count();
    await org.fill('#member-id', 'no-such-account');
    await org.click('#member-form button[type="submit"]');
    await org.waitForFunction(() => document.querySelector('main [role="alert"]').textContent.length > 0);
    report.organiser.unknownAccount = await org.locator('main [role="alert"]').first().innerText();
    await checkPage(ctx, org, 'audience-organiser');
    const audienceUrl = org.url();

    step = 'the department admin sees the members by name';
    const adm = await newPage(ctx);
    await signIn(adm, base, accounts.department_admin);
    await adm.goto(`${base}/#/channels`);
    await adm.click(`#audience-list a:text-is("${AUDIENCE}")`);
    await adm.waitForSelector('#member-search');
    report.admin.sameAudience = adm.url() === audienceUrl;
    report.admin.before = await adm.locator('#member-list tbody td:first-child').allInnerTexts();
    step = 'the department admin finds the producer by name and adds them';
    await adm.fill('#member-search', 'produ');
    await adm.click('#member-results button[data-user="producer"]');
    await adm.waitForSelector('#member-list tr[data-user="producer"]');
    step = 'the department admin removes the learner';
    await adm.click('#member-list tr[data-user="learner"] button');
    await adm.waitForSelector('#member-list tr[data-user="learner"]', { state: 'detached' });
    report.admin.after = await adm.locator('#member-list tbody td:nth-child(2)').allInnerTexts();
    await adm.fill('#member-search', 'produ');
    report.admin.memberNotOffered = await adm.locator('#member-results button[data-user="producer"]').count() === 0;
    await checkPage(ctx, adm, 'audience');

    step = 'the organiser sees the change';
    await org.reload();
    await org.waitForSelector('#member-list');
    report.organiser.membersAfter = await org.locator('#member-list tbody tr').count();
    step = 'done';
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
    report.debug = await Promise.all(ctx.pages.map((p) => p.evaluate(() => ({ url: location.href,
      text: document.getElementById('main').innerText.slice(0, 1500) })).catch(String)));
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => { console.error(e); process.exit(1); });
