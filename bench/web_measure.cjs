// The browser side of bench/web.sh: Debian's headless Chromium (playwright-core) loads the
// web app's catalogue and player pages from a `yanxiu serve` on loopback, RUNS times each, and
// prints every sample as one JSON line: {catalogue: {samples}, player: {samples}}. What is
// measured, and how, is tests/browser/web_measure.cjs, shared with the web journey test.
//
// Usage: node bench/web_measure.cjs <node_modules> <base URL> <resource id> [RUNS]
'use strict';

const path = require('node:path');
const { samples } = require('../tests/browser/web_measure.cjs');

const [modules, base, resourceId, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 10);

async function main() {
  const { chromium } = require(path.join(modules, 'playwright-core'));
  const browser = await chromium.launch({
    executablePath: process.env.YANXIU_BENCH_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    console.log(JSON.stringify(await samples(browser, base, resourceId, runs)));
  } finally {
    await browser.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
