// The driver of tests/web_app.rs: every role's journey through the web app served by a real
// `yanxiu serve`, in Debian's headless Chromium through playwright-core (never a downloaded
// browser). Each page visited is checked by axe-core (serious and critical violations),
// rendered in zh-CN and in English (any missing catalogue key is recorded) and
// screenshotted into the given folder. The learner's ratings, complaints and "my learning",
// the centre's queues and the security admin's sessions and lockouts are in web_learning.cjs;
// staff two-factor sign-in, expired passwords and the settings page in web_staff.cjs.
// Prints one JSON line:
//   {steps, pages: {name: {missing, axe}}, upload: {...}, playback: {...}, feedback: {...},
//    learning: {...}, security: {...}, failure}
// `failure` is null when every step finished; the Rust test asserts on the rest.
//
// Usage: node web_journey.cjs <node_modules> <base URL> <accounts.json> <fixture> <shots dir>
//        <a fixture the policy rejects>
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { launchChromium } = require('./harness.cjs');
const { checkPage, signIn, newPage, totpCode, totpStats } = require('./web_support.cjs');
const staff = require('./web_staff.cjs');
const { measure } = require('./web_measure.cjs');
const { learnerRatesAndReports, centreHandles, learnerLearning, securityAdmin } = require('./web_learning.cjs');

const [modules, base, accountsFile, fixture, shots, rejectedFixture] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node web_journey.cjs <node_modules> <base> <accounts.json> <fixture> <shots dir>');
  process.exit(2);
}
const accounts = JSON.parse(fs.readFileSync(accountsFile, 'utf8'));
const axeSource = fs.readFileSync(path.join(modules, 'axe-core', 'axe.min.js'), 'utf8');

async function main() {
  const report = { steps: [], pages: {}, upload: {}, review: {}, playback: {}, organiser: {}, admin: {}, errors: [], failure: null };
  const browser = await launchChromium(modules);
  let step = 'start';
  const mark = (s) => { step = s; report.steps.push(s); console.error(`step: ${s}`); };
  const ctx = { browser, base, axeSource, shots, report, pages: [] };
  const title = '全景式认识中国式现代化';
  const started = Date.now();
  report.mfa = {};
  try {
    // The test's own TOTP against RFC 6238 appendix B (SHA-1, T = 59 s: 94287082, 6 digits).
    report.mfa.rfcVector = totpCode(Buffer.from('12345678901234567890'), 1);
    // Anyone: the sign-in page.
    mark('anonymous sign-in page');
    {
      const page = await newPage(ctx);
      await page.goto(`${base}/#/login`);
      await checkPage(ctx, page, 'login');
      await page.fill('#login-form [name="username"]', accounts.learner.username);
      await page.fill('#login-form [name="password"]', 'Wrong-password-1');
      await page.click('#login-form button[type="submit"]');
      await page.waitForFunction(() => document.querySelector('#login-form [role="alert"]').textContent.length > 0);
      report.wrongPasswordMessage = await page.locator('#login-form [role="alert"]').innerText();
      await page.context().close();
    }

    // Producer: upload interrupted by a reload and resumed, metadata, self-review.
    mark('producer signs in');
    const producer = await newPage(ctx);
    await signIn(producer, base, accounts.producer);
    await checkPage(ctx, producer, 'my-resources');
    await producer.goto(`${base}/#/account`);
    await checkPage(ctx, producer, 'account');
    mark('producer changes the password');
    await producer.fill('#password-form input[autocomplete="current-password"]', accounts.producer.password);
    await producer.fill('#password-form input[autocomplete="new-password"]', 'Lecture-New-2026!');
    await producer.click('#password-form button[type="submit"]');
    await producer.waitForSelector('#password-form [role="alert"].ok');
    report.passwordChanged = true;
    mark('producer makes an API token');
    await producer.fill('#tokens-h ~ form input[type="text"]', 'ci');
    await producer.click('#tokens-h ~ form button[type="submit"]');
    await producer.waitForSelector('.secret');
    report.apiToken = (await producer.locator('.secret').innerText()).slice(0, 4);
    mark('producer opens the upload page');
    await producer.evaluate(() => localStorage.setItem('yanxiu.upload.chunk_bytes', String(128 * 1024)));
    await producer.goto(`${base}/#/upload`);
    await producer.waitForSelector('#upload-file', { state: 'attached' });
    await producer.fill('#upload-title', title);
    let patches = 0;
    let held = null;
    await producer.route('**/api/v1/uploads/**', async (route) => {
      if (route.request().method() !== 'PATCH') return route.continue();
      patches += 1;
      if (patches <= 2) return route.continue();
      held = route; // the network "drops": this chunk never arrives
      return undefined;
    });
    await producer.setInputFiles('#upload-file', fixture);
    mark('waiting for two chunks and the third to hang');
    await waitFor(() => held !== null, 30000, 'the third chunk');
    report.upload.percentBeforeReload = Number(await producer.getAttribute('#upload-progress', 'data-percent'));
    mark('reloading mid-upload');
    await producer.reload();
    await producer.unroute('**/api/v1/uploads/**');
    await producer.waitForSelector('body[data-ready="true"]');
    await producer.waitForSelector('#unfinished li');
    report.upload.unfinishedListed = await producer.locator('#unfinished li').count();
    await checkPage(ctx, producer, 'upload');
    const after = { creations: 0, offsets: [] };
    producer.on('request', (r) => {
      if (!r.url().includes('/api/v1/uploads')) return;
      if (r.method() === 'POST') after.creations += 1;
      if (r.method() === 'PATCH') after.offsets.push(Number(r.headers()['upload-offset']));
    });
    mark('choosing the same file again');
    await producer.setInputFiles('#upload-file', fixture);
    await producer.waitForURL(/#\/resource\//, { timeout: 60000 });
    report.upload.creationsAfterReload = after.creations;
    report.upload.firstOffsetAfterReload = after.offsets[0] ?? null;
    report.upload.patchesAfterReload = after.offsets.length;
    const resourceUrl = producer.url();
    const resourceId = resourceUrl.split('#/resource/')[1];
    report.upload.resourceId = resourceId;

    mark('waiting for processing to finish on the resource page');
    await producer.waitForSelector('#processing[data-status="ready"]', { timeout: 240000 });
    await producer.waitForSelector('#metadata-form');
    mark('filling the metadata form');
    const form = {
      name: title, lecturer_name: '宋薇', lecturer_unit: '北京市清华大学附属中学', lecturer_title: '高级教师',
      credit_hours: '4', display_order: '1', category1: '名师课改示范课', category2: '政治与历史',
      summary: '目标、要点与学时', project_name: '2026 年教师研修', undertaking_unit: '物理教研室',
    };
    for (const [k, v] of Object.entries(form)) await producer.fill(`#metadata-form [name="${k}"]`, v);
    await producer.click('#metadata-save');
    await producer.waitForSelector('#metadata-form [role="alert"].ok');
    mark('producer attaches captions: a refused file, then a good one');
    await producer.fill('#caption-language', 'zh-CN');
    await producer.fill('#caption-label', '中文');
    await producer.setInputFiles('#caption-file', { name: 'late.srt', mimeType: 'application/x-subrip',
      buffer: Buffer.from('1\n00:00:30,000 --> 00:00:31,000\n视频结束之后\n') });
    await producer.click('#caption-upload');
    await producer.waitForSelector('#captions [role="alert"].error:not(:empty)');
    report.upload.captionRefusal = await producer.locator('#captions [role="alert"]').innerText();
    await producer.setInputFiles('#caption-file', { name: 'zh.srt', mimeType: 'application/x-subrip',
      buffer: Buffer.from('1\n00:00:00,500 --> 00:00:03,000\n欢迎参加研修\n\n2\n00:00:04,000 --> 00:00:06,000\n请看板书\n') });
    await producer.click('#caption-upload');
    await producer.waitForSelector('#captions-list tr[data-language="zh-CN"]', { timeout: 15000 });
    report.upload.captionRow = await producer.locator('#captions-list tr[data-language="zh-CN"]').innerText();
    await producer.waitForSelector('#metadata-form');
    await checkPage(ctx, producer, 'resource-producer');
    mark('self-review');
    await producer.fill('#review-comment', '内容符合要求，提交复审');
    await producer.click('#approve-button');
    await producer.waitForSelector('#review-history tbody tr');
    await producer.goto(`${base}/#/mine`);
    await producer.waitForSelector(`tr[data-id="${resourceId}"]`);
    report.upload.stateAfterSelfReview = await producer.locator(`tr[data-id="${resourceId}"] td:nth-child(3)`).innerText();

    mark('producer uploads a file the policy rejects');
    await producer.goto(`${base}/#/upload`);
    await producer.waitForSelector('#upload-file', { state: 'attached' });
    let sent = 0;
    report.upload.dropped = 0;
    await producer.route('**/api/v1/uploads/**', async (route) => {
      if (route.request().method() === 'PATCH' && (sent += 1) === 2) {
        report.upload.dropped += 1; // the connection drops once mid-upload; tus-js-client retries
        return route.abort('connectionreset');
      }
      return route.continue();
    });
    await producer.setInputFiles('#upload-file', rejectedFixture);
    await producer.waitForURL(/#\/resource\//, { timeout: 60000 });
    await producer.unroute('**/api/v1/uploads/**');
    await producer.waitForSelector('#processing[data-status="rejected"] #violations li', { timeout: 120000 });
    report.upload.rejectedReasons = await producer.locator('#violations li').allInnerTexts();
    await checkPage(ctx, producer, 'resource-rejected');

    // Department reviewer approves.
    mark('department reviewer enrols a second factor through the page');
    const dept = await newPage(ctx);
    report.mfa.enrol = await staff.firstEnrolment(ctx, dept, accounts.department_reviewer);
    mark('department reviewer: two-step sign-in page, history, new recovery codes');
    report.mfa.account = await staff.accountSecurity(ctx, dept, accounts.department_reviewer);
    await dept.goto(`${base}/#/review/department`);
    await dept.waitForSelector(`tr[data-id="${resourceId}"] a`);
    await checkPage(ctx, dept, 'review-department');
    await dept.click(`tr[data-id="${resourceId}"] a`);
    await dept.waitForSelector('#approve-button');
    await dept.waitForSelector('#table1');
    await checkPage(ctx, dept, 'resource-department-review');
    const rows = (page, n) => page.waitForFunction((k) => document.querySelectorAll('#review-history tbody tr').length === k, n);
    mark('department reviewer rejects without, then with a reason');
    await dept.click('#reject-button');
    report.review.reasonNeeded = await dept.locator('#decision [role="alert"]').innerText();
    await dept.fill('#review-comment', '请补充主讲人职称与课程简介');
    await dept.click('#reject-button');
    await rows(dept, 2);
    mark('producer reworks and signs again');
    await producer.goto(`${base}/#/resource/${resourceId}`);
    await producer.waitForSelector('#approve-button');
    report.review.producerSeesRejection = await producer.locator('#review-history').innerText();
    await producer.fill('#review-comment', '已补充，重新提交');
    await producer.click('#approve-button');
    await rows(producer, 3);
    mark('department reviewer approves');
    await dept.goto(`${base}/#/review/department`);
    await dept.click(`tr[data-id="${resourceId}"] a`);
    await dept.waitForSelector('#approve-button');
    await dept.fill('#review-comment', '复审通过');
    await dept.click('#approve-button');
    await rows(dept, 4);

    // Centre reviewer: technical approval, preview, publication.
    mark('centre reviewer');
    const centre = await newPage(ctx);
    await signIn(centre, base, accounts.centre_reviewer);
    await centre.waitForSelector(`section[data-state="department_approved"] tr[data-id="${resourceId}"] a`);
    await checkPage(ctx, centre, 'review-centre');
    await centre.click(`tr[data-id="${resourceId}"] a`);
    await centre.waitForSelector('#approve-button');
    await centre.click('#preview-button');
    await centre.waitForFunction(() => window.yanxiuPlayer && window.yanxiuPlayer.levels.length > 0, null, { timeout: 30000 });
    report.playback.previewLevels = await centre.evaluate(() => window.yanxiuPlayer.levels);
    await centre.fill('#review-comment', '技术审核通过');
    await centre.click('#approve-button');
    await centre.waitForSelector('#publish-button');
    await rows(centre, 5);
    await checkPage(ctx, centre, 'resource-publish');
    await centre.click('#publish-button');
    await centre.waitForSelector('#decision', { state: 'detached' });

    // Learner: catalogue, search, categories, plays at two levels, resumes, to the end.
    mark('learner');
    const learner = await newPage(ctx);
    await signIn(learner, base, accounts.learner);
    await learner.waitForSelector('#catalogue-list li');
    await learner.fill('#catalogue-search', '宋薇');
    await learner.click('#cat1 button:has-text("名师课改示范课")');
    await learner.click('#cat2 button:has-text("政治与历史")');
    // Count once the filter shows as chosen and the list has been drawn for it.
    await learner.waitForSelector('#cat2 button[aria-pressed="true"]:has-text("政治与历史")');
    await learner.waitForSelector(`#catalogue-list a[href="#/watch/${resourceId}"]`);
    report.playback.catalogueCount = await learner.locator('#catalogue-list li').count();
    await checkPage(ctx, learner, 'catalogue');
    await learner.click(`#catalogue-list a[href="#/watch/${resourceId}"]`);
    await learner.waitForSelector('#video');
    await learner.waitForFunction(() => window.yanxiuPlayer && window.yanxiuPlayer.levels.length > 0, null, { timeout: 30000 });
    await checkPage(ctx, learner, 'player');
    mark('learner scrubs with storyboard thumbnails');
    await learner.waitForSelector('#scrub', { timeout: 15000 });
    // The slider moves once the length is known (a loaded machine may take a while).
    await learner.waitForFunction(() => Number(document.getElementById('scrub').max) > 0, null, { timeout: 30000 });
    await learner.focus('#scrub');
    for (let i = 0; i < 4; i += 1) await learner.keyboard.press('ArrowRight');
    await learner.waitForSelector('#scrub-thumb[data-src]', { state: 'attached' });
    report.playback.scrubbedTo = await learner.evaluate(() => document.getElementById('video').currentTime);
    report.playback.thumbnail = await learner.evaluate(async () => {
      const src = document.getElementById('scrub-thumb').dataset.src;
      const r = await fetch(src);
      return { src, status: r.status, type: r.headers.get('content-type') };
    });
    mark('learner plays');
    await learner.evaluate(() => document.getElementById('video').play());
    await learner.waitForFunction(() => document.getElementById('video').currentTime > 1, null, { timeout: 30000 });
    const levels = await learner.evaluate(() => window.yanxiuPlayer.levels.length);
    report.playback.levels = levels;
    for (const level of [0, levels - 1]) {
      mark(`learner picks quality level ${level}`);
      // Back near the start, so the new level has fragments to load even
      // when a slow machine let the short clip play to its end meanwhile.
      await learner.evaluate(() => {
        const video = document.getElementById('video');
        video.currentTime = 1;
        return video.play();
      });
      const seen = await learner.evaluate(() => window.yanxiuPlayer.switched.length);
      await learner.selectOption('#quality', String(level));
      await learner.waitForFunction(([l, n]) => window.yanxiuPlayer.switched.slice(n).includes(l), [level, seen], { timeout: 20000 });
      report.playback.forced = (report.playback.forced || []).concat(level);
    }
    report.playback.switched = await learner.evaluate(() => window.yanxiuPlayer.switched);
    mark('learner turns the captions on');
    await learner.waitForSelector('#captions-select option:nth-child(2)', { state: 'attached', timeout: 15000 });
    report.playback.captionOptions = await learner.locator('#captions-select option').allInnerTexts();
    await learner.selectOption('#captions-select', '0');
    report.playback.captionTrack = await learner.evaluate(() => window.yanxiuPlayer.hls.subtitleTrack);
    await learner.selectOption('#speed', '1.5');
    report.playback.rate = await learner.evaluate(() => document.getElementById('video').playbackRate);
    mark('learner leaves mid-way and comes back');
    await learner.waitForFunction(() => document.getElementById('video').currentTime > 5, null, { timeout: 30000 });
    await learner.evaluate(() => document.getElementById('video').pause());
    report.playback.leftAt = await learner.evaluate(() => document.getElementById('video').currentTime);
    await learner.reload();
    await learner.waitForSelector('#resume-note button', { timeout: 30000 });
    report.playback.resumedAt = await learner.evaluate(() => document.getElementById('video').currentTime);
    mark('learner plays to the end');
    await learner.evaluate(() => document.getElementById('video').play());
    await learner.waitForFunction(() => window.yanxiuPlayer.ended, null, { timeout: 60000 });
    report.playback.ended = true;
    report.playback.errors = await learner.evaluate(() => window.yanxiuPlayer.errors);

    mark('learner rates, comments and reports the resource');
    report.feedback = await learnerRatesAndReports(ctx, learner, resourceId);
    mark('centre reviewer approves the rating, takes the resource down and restores it');
    Object.assign(report.feedback, await centreHandles(ctx, centre, resourceId));
    mark('learner reads my learning');
    report.learning = await learnerLearning(ctx, learner, resourceId);

    mark('measuring the catalogue and player pages');
    report.measure = await measure(ctx, resourceId);

    mark('learner on a phone');
    const phone = await newPage(ctx, true);
    await signIn(phone, base, accounts.learner);
    await phone.waitForSelector('#catalogue-list li');
    await checkPage(ctx, phone, 'catalogue-phone');
    report.phone = { catalogueFits: await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth) };
    await phone.click(`#catalogue-list a[href="#/watch/${resourceId}"]`);
    await phone.waitForFunction(() => window.yanxiuPlayer && window.yanxiuPlayer.levels.length > 0, null, { timeout: 30000 });
    await checkPage(ctx, phone, 'player-phone');
    report.phone.playerFits = await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

    mark('the desktop session of the learner was ended by the sign-in on the phone');
    await learner.goto(`${base}/#/account`);
    await learner.waitForSelector('#login-form');
    report.evictedNotice = await learner.locator('#notice').innerText();

    // Organiser: a channel, its key once with the OBS fields, the dashboard.
    mark('organiser');
    const org = await newPage(ctx);
    await signIn(org, base, accounts.event_organiser);
    await org.waitForSelector('#channel-form');
    mark('organiser creates an audience');
    await org.fill('#audience-name', '物理组教师');
    await org.click('#audience-form button[type="submit"]');
    await org.waitForSelector('#channel-audience-id option:text-is("物理组教师")', { state: 'attached' });
    report.organiser.audienceOffered = true;
    await checkPage(ctx, org, 'channels');
    await org.fill('#channel-name', '周三教研直播');
    await org.click('#channel-form button[type="submit"]');
    await org.waitForSelector('#key-panel');
    await org.waitForSelector('#dashboard dl');
    report.organiser.obsKey = await org.locator('#obs-key').innerText();
    report.organiser.obsServer = await org.locator('#obs-server').innerText();
    await checkPage(ctx, org, 'channel');
    await org.reload();
    await org.waitForSelector('#dashboard dl');
    report.organiser.keyAfterReload = await org.locator('#key-panel').count();
    mark('organiser lets an HEVC source through as it came');
    report.organiser.hevcHint = await org.locator('#channel-hevc-hint').innerText();
    report.organiser.hevcBefore = await org.isChecked('#channel-edit #channel-hevc');
    await org.check('#channel-edit #channel-hevc');
    await Promise.all([
      org.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/channels/') && r.ok()),
      org.click('#channel-edit button[type="submit"]'),
    ]);
    await org.reload();
    await org.waitForSelector('#channel-edit #channel-hevc');
    report.organiser.hevcAfterReload = await org.isChecked('#channel-edit #channel-hevc');
    mark('organiser rotates the key and ends the event');
    org.on('dialog', (d) => d.accept());
    await org.click('#rotate-key');
    await org.waitForSelector('#key-panel');
    report.organiser.rotatedKeyDiffers = (await org.locator('#obs-key').innerText()) !== report.organiser.obsKey;
    await org.click('#end-event');
    await org.waitForSelector('#end-event[disabled]');
    report.organiser.ended = true;

    // Admins: each does one task of theirs and is refused another's page.
    mark('system admin');
    const sys = await newPage(ctx);
    report.mfa.systemAdminLanded = await signIn(sys, base, accounts.system_admin);
    await sys.waitForSelector('#user-list');
    await checkPage(ctx, sys, 'admin-users');
    await sys.fill('#new-username', 'new-teacher');
    await sys.fill('#new-password', 'Teacher-2026-pass!');
    await sys.click('#user-form button[type="submit"]');
    await sys.waitForSelector('#user-list td:text-is("new-teacher")');
    report.admin.created = true;
    await sys.goto(`${base}/#/admin/org`);
    await sys.waitForSelector('#department-list');
    await checkPage(ctx, sys, 'admin-org');
    await sys.goto(`${base}/#/admin/audit`);
    await sys.waitForSelector('#forbidden');
    report.admin.systemAdminRefusedAudit = true;
    await sys.goto(`${base}/#/admin/security`);
    await sys.waitForSelector('#forbidden');
    report.admin.systemAdminRefusedSecurity = true;
    mark('system admin changes a settings section and puts it back');
    report.settings = await staff.settings(ctx, sys);
    mark('system admin signs in again with a TOTP code');
    report.mfa.systemAdminAgain = await staff.signInAgain(sys, base, accounts.system_admin);

    mark('security admin');
    const sec = await newPage(ctx);
    await signIn(sec, base, accounts.security_admin);
    await sec.waitForSelector('fieldset[data-user="new-teacher"]');
    await checkPage(ctx, sec, 'admin-roles');
    const box = sec.locator('fieldset[data-user="new-teacher"] input[value="learner"]');
    await box.check();
    await sec.click('fieldset[data-user="new-teacher"] button');
    await sec.waitForFunction(() => document.getElementById('notice').textContent.includes('new-teacher'));
    report.admin.roleGranted = true;
    await sec.goto(`${base}/#/admin/users`);
    await sec.waitForSelector('#forbidden');
    report.admin.securityAdminRefusedUsers = true;
    mark('security admin ends a session and unlocks an account');
    report.security = await securityAdmin(ctx, sec, dept, accounts.department_reviewer.username, 'new-teacher');
    mark('security admin resets the second factor of the centre reviewer');
    report.mfa.reset = await staff.resetSecondFactor(sec, accounts.centre_reviewer.username, centre);
    mark('department reviewer signs in again with a recovery code');
    report.mfa.recovery = await staff.recoverySignIn(dept, base, accounts.department_reviewer);
    mark('centre reviewer enrols again after the reset');
    report.mfa.reEnrol = {};
    report.mfa.reEnrolLanded = await signIn(centre, base, accounts.centre_reviewer, { enrol: { report: report.mfa.reEnrol } });

    mark('audit admin');
    const aud = await newPage(ctx);
    mark('audit admin: expired password, reuse refused, changed, then enrolment');
    report.password = await staff.expiredPassword(ctx, aud, base, accounts.audit_admin, 'Audit-Renewed-2026!');
    await aud.waitForSelector('#audit-results table');
    await aud.click('#audit-verify');
    await aud.waitForSelector('#audit-verify-result.ok');
    report.admin.auditVerified = await aud.locator('#audit-verify-result').innerText();
    await checkPage(ctx, aud, 'admin-audit');
    await aud.goto(`${base}/#/admin/roles`);
    await aud.waitForSelector('#forbidden');
    report.admin.auditAdminRefusedRoles = true;

    mark('department admin');
    const dadm = await newPage(ctx);
    await signIn(dadm, base, accounts.department_admin);
    await dadm.waitForSelector('#user-list');
    report.admin.departmentAdminSees = await dadm.locator('#user-list tbody td:first-child').allInnerTexts();
    await checkPage(ctx, dadm, 'admin-users-department');
    await dadm.goto(`${base}/#/admin/audit`);
    await dadm.waitForSelector('#forbidden');
    report.admin.departmentAdminRefusedAudit = true;

    mark('sign out');
    await aud.click('#sign-out');
    await aud.waitForSelector('#login-form');
    report.admin.signedOut = true;
    mark('done');
    report.totp = totpStats;
    report.seconds = Math.round((Date.now() - started) / 1000);
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
    const last = ctx.pages[ctx.pages.length - 1];
    report.debugPages = await Promise.all(ctx.pages.map(async (p) => ({
      url: p.url(),
      notice: await p.evaluate(() => document.getElementById('notice').textContent).catch(() => null),
      who: await p.evaluate(() => document.getElementById('who').textContent).catch(() => null),
    })));
    if (last) {
      report.debug = await last.evaluate(() => ({
        url: location.href,
        text: document.getElementById('main').innerText.slice(0, 1500),
        player: window.yanxiuPlayer ? { levels: window.yanxiuPlayer.levels, errors: window.yanxiuPlayer.errors } : null,
        scrub: document.getElementById('scrub') ? { max: document.getElementById('scrub').max, value: document.getElementById('scrub').value,
          duration: document.getElementById('video').duration, active: document.activeElement && document.activeElement.id,
          thumb: document.getElementById('scrub-thumb').outerHTML } : null,
      })).catch((x) => String(x));
    }
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

function waitFor(cond, ms, what) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - started > ms) return reject(new Error(`timed out waiting for ${what}`));
      return setTimeout(tick, 50);
    };
    tick();
  });
}

main().catch((e) => { console.error(e); process.exit(1); });
