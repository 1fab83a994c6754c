// shoot.js: screenshots of Shade's output in Chrome DevTools, the copy built into Chromium
// (devtools://devtools/bundled/devtools_app.html), driven headless with puppeteer-core.
// Run by bench/pictures/make_pictures.sh, which installs puppeteer-core and sets NODE_PATH.
//
//   node shoot.js trace <trace.json> <overview.png> <cycle.png>
//       Performance panel: "Load trace" with the trace file, the process and thread tracks
//       expanded; overview.png shows the whole run, cycle.png the end of one cycle (its final
//       pause, assists and mark chunks, the background sweep).
//   node shoot.js heap <file.heapsnapshot> <out.png> [class]
//       Memory panel: "Load profile" with the snapshot, Summary view sorted by retained size, the
//       class (default "User") expanded and its first object selected, so that the Retainers pane
//       shows its path to (GC roots).
//
// CHROMIUM=path overrides /usr/bin/chromium. Exit status 0, or 1 with a message on stderr.
'use strict';
const fs = require('fs');
const puppeteer = require('puppeteer-core');

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
const WIDTH = 1280, HEIGHT = 800;

// Every element of the document, shadow roots included (DevTools is made of web components).
const DEEP = `(() => { const all = []; (function walk(root) { for (const e of root.querySelectorAll('*')) {
  all.push(e); if (e.shadowRoot) walk(e.shadowRoot); } })(document); return all; })()`;

async function openDevTools(browser, panelTab) {
  const page = await browser.newPage();
  page.on('pageerror', e => console.error('devtools page error:', e.message));
  await page.goto('devtools://devtools/bundled/devtools_app.html', {waitUntil: 'load'});
  const tab = await page.waitForSelector(`pierce/#${panelTab}`, {timeout: 20000});
  await tab.click();
  await sleep(1500);
  return page;
}

async function deepFind(page, predicateSource) {
  const handle = await page.evaluateHandle(`${DEEP}.find(${predicateSource})`);
  const element = handle.asElement();
  if (!element)
    throw new Error(`no element matches ${predicateSource}`);
  return element;
}

async function shootTrace(tracePath, overviewPng, cyclePng) {
  const trace = JSON.parse(fs.readFileSync(tracePath, 'utf8'));
  const events = trace.traceEvents || trace;
  const cycles = events.filter(e => e.ph === 'X' && e.name === 'gc cycle');
  if (cycles.length === 0)
    throw new Error(`${tracePath}: no "gc cycle" span`);
  const threads = new Set(events.filter(e => e.ph === 'M' && e.name === 'thread_name').map(e => e.tid));

  const browser = await launch();
  try {
    const page = await openDevTools(browser, 'tab-timeline');
    const input = await deepFind(page, `e => e.tagName === 'INPUT' && e.type === 'file'`);
    await input.uploadFile(tracePath);
    // Loaded when the trace bounds exist.
    await page.waitForFunction(async () => {
      const TB = await import('./services/trace_bounds/trace_bounds.js');
      try { return TB.TraceBounds.BoundsManager.instance().state() !== null; } catch { return false; }
    }, {timeout: 60000, polling: 500});
    await sleep(1500);
    // The flame chart is a canvas: the "Keyboard shortcuts" popover, the sidebar toggle and the
    // track headers are clicked by position (they sit at fixed places in a 1280x800 window).
    await page.mouse.click(1251, 77); // the popover's close button (else: the overview strip)
    await sleep(300);
    const sidebarShown = await page.evaluate(`${DEEP}.some(e => e.textContent === 'Annotations' && e.offsetParent)`);
    if (sidebarShown)
      await page.mouse.click(15, 39); // "Hide sidebar"
    await sleep(500);
    await page.mouse.click(10, 129); // expand the process "shade (pid)"
    await sleep(800);
    for (let i = threads.size - 1; i >= 0; i--) { // expand each thread, bottom first
      await page.mouse.click(20, 146 + 21 * i);
      await sleep(400);
    }
    const setWindow = async (min, max) => {
      await page.evaluate(async (lo, hi) => {
        const TB = await import('./services/trace_bounds/trace_bounds.js');
        TB.TraceBounds.BoundsManager.instance().setTimelineVisibleWindow({min: lo, max: hi, range: hi - lo});
      }, min, max);
      await page.mouse.move(WIDTH - 5, HEIGHT - 5);
      await sleep(1200);
    };
    const bounds = await page.evaluate(async () => {
      const TB = await import('./services/trace_bounds/trace_bounds.js');
      return TB.TraceBounds.BoundsManager.instance().state().micro.entireTraceBounds;
    });
    await setWindow(bounds.min, bounds.max);
    await page.screenshot({path: overviewPng});
    const [lo, hi] = cycleWindow(events, cycles);
    await setWindow(lo, hi);
    await page.screenshot({path: cyclePng});
  } finally {
    await browser.close();
  }
}

async function shootHeap(snapshotPath, outPng, className) {
  const browser = await launch();
  try {
    const page = await openDevTools(browser, 'tab-heap-profiler');
    const load = await page.waitForSelector('pierce/button[aria-label^="Load profile"]');
    const [chooser] = await Promise.all([page.waitForFileChooser({timeout: 10000}), load.click()]);
    await chooser.accept([snapshotPath]);
    // The sidebar item says "Loading…" (class "wait") until the worker has parsed the snapshot.
    await page.waitForFunction(`${DEEP}.some(e => e.tagName === 'LI' &&
        e.classList.contains('heap-snapshot-sidebar-tree-item') && !e.classList.contains('wait'))`,
                               {timeout: 60000, polling: 500});
    const item = await deepFind(page, `e => e.tagName === 'LI' && e.classList.contains('heap-snapshot-sidebar-tree-item')`);
    await item.click();
    await page.waitForFunction(`${DEEP}.some(e => e.tagName === 'TR' && /^\\s*${className}\\b/.test(e.textContent))`,
                               {timeout: 30000, polling: 500});
    const row = await deepFind(page, `e => e.tagName === 'TR' && /^\\s*${className}\\b/.test(e.textContent)`);
    await row.click();
    await page.keyboard.press('ArrowRight'); // expand the class
    await sleep(800);
    await page.keyboard.press('ArrowDown'); // select its first object: the Retainers pane fills
    await sleep(2000);
    await page.mouse.move(WIDTH - 5, HEIGHT - 5);
    await page.screenshot({path: outPng});
  } finally {
    await browser.close();
  }
}

// The window of the close-up: around one cycle's final pause, from 4 ms before it to 2 ms after,
// for the cycle with the most mark assists in those 4 ms (then the most mark chunks; ties: the
// later cycle), leaving out the first two cycles (the heap is still tiny then) when there are more.
function cycleWindow(events, cycles) {
  const pauses = events.filter(e => e.ph === 'B' && e.name === 'pause').map(e => e.ts).sort((a, b) => a - b);
  const assists = events.filter(e => e.ph === 'X' && e.name === 'mark assist');
  const chunks = events.filter(e => e.ph === 'X' && e.name === 'mark chunk');
  const before = 4000, after = 2000; // microseconds
  let best = null;
  for (const cycle of cycles.length > 2 ? cycles.slice(2) : cycles) {
    const inside = pauses.filter(ts => ts >= cycle.ts && ts <= cycle.ts + cycle.dur);
    if (inside.length === 0)
      continue;
    const last = inside[inside.length - 1];
    const within = list => list.filter(e => e.ts + e.dur > last - before && e.ts < last).length;
    const count = within(assists) * 1e6 + within(chunks);
    if (!best || count >= best.count)
      best = {count, last};
  }
  const at = best ? best.last : cycles[0].ts + cycles[0].dur;
  return [at - before, at + after];
}

function launch() {
  return puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // --no-sandbox: the scripts run as root here, and Chromium refuses its sandbox as root.
    args: ['--no-sandbox', '--disable-gpu', `--window-size=${WIDTH},${HEIGHT}`],
    defaultViewport: {width: WIDTH, height: HEIGHT},
  });
}

async function main() {
  const [what, ...args] = process.argv.slice(2);
  if (what === 'trace' && args.length === 3)
    await shootTrace(args[0], args[1], args[2]);
  else if (what === 'heap' && (args.length === 2 || args.length === 3))
    await shootHeap(args[0], args[1], args[2] || 'User');
  else {
    console.error('usage: shoot.js trace <trace.json> <overview.png> <cycle.png>\n' +
                  '       shoot.js heap <file.heapsnapshot> <out.png> [class]');
    process.exit(2);
  }
}

main().catch(e => {
  console.error('shoot.js:', e.stack || e.message);
  process.exit(1);
});
