// The HTTPS driver of tests/tls.rs: the web app itself over https:// under its real
// Content-Security-Policy (not bypassed, unlike the other web drivers, which inject axe-core):
// a person signs in through the page, opens the live page of a channel being published over
// RTMPS, watches it with the app's hls.js (a blob: worker and MediaSource), then switches to
// low latency (WHEP over the page's relative /whep URL) until WebRTC frames arrive. Every
// `securitypolicyviolation` event of every document is recorded. The test's own CA made the
// certificate, so the context ignores certificate errors. Prints one JSON line:
//   {cspViolations, errors, hlsTime, webrtcFrames, failure}
//
// Usage: node web_https.cjs <node_modules> <https base URL> <username> <password> <channel id>
'use strict';

const { launchChromium } = require('./harness.cjs');
const { signIn } = require('./web_support.cjs');

const [modules, base, username, password, channel] = process.argv.slice(2);

async function main() {
  const report = { cspViolations: [], errors: [], hlsTime: 0, webrtcFrames: 0, failure: null };
  const browser = await launchChromium(modules);
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 900 } });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push({ directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile });
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  page.on('pageerror', (e) => report.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`page console: ${m.text()}`);
    if (/Content Security Policy/i.test(m.text())) report.cspViolations.push({ console: m.text() });
  });
  let step = 'signing in';
  try {
    await signIn(page, base, { username, password });
    step = 'playing the live page over HLS';
    await page.goto(`${base}/#/live/${channel}`);
    await page.waitForSelector('#live[data-mode="hls"][data-state="playing"]', { timeout: 60000 });
    await page.waitForFunction(() => document.getElementById('video').currentTime > 2, null, { timeout: 60000 });
    report.hlsTime = await page.evaluate(() => document.getElementById('video').currentTime);
    step = 'switching to low latency (WHEP)';
    await page.waitForSelector('#live-modes:not([hidden])', { timeout: 30000 });
    await page.check('#live-mode-webrtc');
    await page.waitForSelector('#live[data-mode="webrtc"][data-state="playing"]', { timeout: 30000 });
    const deadline = Date.now() + 30000;
    while (report.webrtcFrames <= 30 && Date.now() < deadline) {
      const s = await page.evaluate(() => window.yanxiuWhep && window.yanxiuWhep.stats());
      report.webrtcFrames = s ? s.framesDecoded : 0;
      await page.waitForTimeout(250);
    }
  } catch (e) {
    report.failure = `${step}: ${e.message.split('\n')[0]}`;
  }
  try {
    report.cspViolations = report.cspViolations.concat(await page.evaluate(() => window.__csp || []));
  } catch (e) {
    report.errors.push(`reading the violations: ${e.message}`);
  }
  await browser.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => { console.error(e); process.exit(1); });
