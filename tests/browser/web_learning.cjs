// Steps of the web journey (web_journey.cjs) for what learners send and what the centre and
// the security administrator do with it: a learner rates and comments a resource under its
// player and reports it with a reason; the centre reviewer approves the rating in the
// moderation queue and takes the resource down from the complaint queue, then restores it
// after the re-review; the learner reads their transcript (progress, credit hours) and the
// complaint's outcome on "my learning"; the security administrator sees the live sessions,
// ends one (its owner is signed out) and unlocks an account locked by wrong passwords.
// Every page is checked (axe-core, both languages, screenshot).
'use strict';

const { checkPage, settle } = require('./web_support.cjs');

/** The learner on the player page of `resourceId`: 4 stars with a comment, and a report. */
async function learnerRatesAndReports(ctx, page, resourceId) {
  const out = {};
  await page.goto(`${ctx.base}/#/watch/${resourceId}`);
  await page.waitForSelector('#feedback-form');
  await settle(page);
  await page.check('#feedback-form input[name="feedback-stars"][value="4"]');
  await page.fill('#feedback-comment', '讲解清楚，案例贴近课堂');
  await page.click('#feedback-submit');
  await page.waitForSelector('#feedback-form [role="alert"].ok');
  out.ratingMessage = await page.locator('#feedback-form [role="alert"]').innerText();
  out.ratingStatus = await page.locator('#feedback-mine .badge').innerText();
  await page.click('#complaint summary');
  await page.selectOption('#complaint-category', 'technical');
  await page.fill('#complaint-detail', '第 3 秒起声音与画面不同步');
  await page.click('#complaint-submit');
  await page.waitForSelector('#complaint-follow');
  out.complaintFiled = true;
  await page.fill('#complaint-detail', '再次举报同一问题');
  await page.click('#complaint-submit');
  await page.waitForFunction(() => /处理中/.test(document.querySelector('#complaint-form [role="alert"]').textContent));
  out.secondComplaint = await page.locator('#complaint-form [role="alert"]').innerText();
  await checkPage(ctx, page, 'player-feedback', { scrollTo: '#feedback' });
  return out;
}

/** The centre reviewer: approves the rating, takes the resource down, restores it. */
async function centreHandles(ctx, page, resourceId) {
  const out = {};
  await page.goto(`${ctx.base}/#/review/feedback`);
  await page.waitForSelector('#feedback-queue .queue-item');
  await checkPage(ctx, page, 'review-feedback');
  await page.fill('#feedback-queue .queue-item input[type="text"]', '感谢反馈');
  await page.click('#feedback-queue .queue-item button[data-decision="approve"]');
  await page.waitForSelector('#feedback-queue .empty');
  out.ratingApproved = true;

  await page.goto(`${ctx.base}/#/review/complaints`);
  await page.waitForSelector('#complaint-queue .queue-item[data-status="open"]');
  await checkPage(ctx, page, 'review-complaints');
  const card = '#complaint-queue .queue-item';
  await page.click(`${card} button[data-step="take_down"]`);
  out.commentNeeded = await page.locator(`${card} [role="alert"]`).innerText();
  await page.fill(`${card} textarea`, '已下线，核查音画同步问题');
  await page.click(`${card} button[data-step="take_down"]`);
  await page.waitForSelector('#complaint-queue .empty');
  out.takenDown = await page.evaluate(async (rid) => {
    const r = await fetch('/api/v1/catalogue?per_page=200');
    return !(await r.json()).items.some((e) => e.resource_id === rid);
  }, resourceId);
  await page.selectOption('#complaint-filter', 'taken_down');
  await page.waitForSelector(`${card}[data-status="taken_down"]`);
  await page.fill(`${card} textarea`, '复审确认音画同步正常，恢复上线');
  await page.click(`${card} button[data-step="restore"]`);
  await page.waitForSelector('#complaint-queue .empty');
  out.restored = await page.evaluate(async (rid) => {
    const r = await fetch('/api/v1/catalogue?per_page=200');
    return (await r.json()).items.some((e) => e.resource_id === rid);
  }, resourceId);
  return out;
}

/** The learner's "my learning": the transcript row of `resourceId` and the complaint. */
async function learnerLearning(ctx, page, resourceId) {
  await page.goto(`${ctx.base}/#/watch/${resourceId}`);
  await page.reload(); // the view as it is now, with the approved comment
  await page.waitForSelector('#feedback-comments li');
  const out = { commentShown: await page.locator('#feedback-comments li').first().innerText(),
    average: await page.locator('#feedback-average').innerText() };
  await page.click('#nav a[href="#/learning"]');
  await page.waitForSelector(`#learning-list tr[data-id="${resourceId}"]`);
  await checkPage(ctx, page, 'learning');
  const row = page.locator(`#learning-list tr[data-id="${resourceId}"]`);
  out.row = await row.innerText();
  out.earned = await row.getAttribute('data-earned');
  out.progress = Number(await row.locator('progress').getAttribute('value'));
  out.total = await page.locator('#learning-total').innerText();
  out.complaint = await page.locator('#my-complaints tbody tr').first().innerText();
  out.complaintStatus = await page.locator('#my-complaints tbody tr').first().getAttribute('data-status');
  return out;
}

/** The security administrator: ends the session of `victim` (a page signed in as someone
 * else) and unlocks `locked` (a username locked by wrong passwords first). */
async function securityAdmin(ctx, page, victim, victimName, locked) {
  const out = {};
  out.lockedStatus = await page.evaluate(async (u) => {
    let status = 0;
    for (let i = 0; i < 5; i += 1) {
      status = (await fetch('/api/v1/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: u, password: 'Wrong-password-9' }) })).status;
    }
    return status;
  }, locked);
  await page.click('#nav a[href="#/admin/security"]');
  await page.waitForSelector(`#lockout-list tr[data-user="${locked}"]`);
  await page.waitForSelector(`#session-list tr[data-user="${victimName}"]`);
  out.sessionUsers = await page.locator('#session-list tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.user));
  out.browser = await page.locator(`#session-list tr[data-user="${victimName}"] td:nth-child(3)`).innerText();
  await checkPage(ctx, page, 'admin-security');
  page.once('dialog', (d) => d.accept());
  await page.click(`#session-list tr[data-user="${victimName}"] button`);
  await page.waitForFunction((n) => !document.querySelector(`#session-list tr[data-user="${n}"]`), victimName);
  await page.click(`#lockout-list tr[data-user="${locked}"] button`);
  await page.waitForSelector('#lockout-list .empty');
  out.unlocked = true;
  out.victimStatus = await victim.evaluate(async () => (await fetch('/api/v1/me', {
    headers: { Authorization: `Bearer ${sessionStorage.getItem('yanxiu.token')}` } })).status);
  return out;
}

module.exports = { learnerRatesAndReports, centreHandles, learnerLearning, securityAdmin };
