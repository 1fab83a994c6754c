// devtools_check.js <node_modules> <file.heapsnapshot> <facts.json>: the snapshot as Chrome
// DevTools itself shows it. Chromium's own DevTools (devtools://devtools/bundled/devtools_app.html),
// headless through puppeteer-core, loads the file in the Memory panel; the test then reads what
// the Summary view and the Retainers pane display: the "Node" class with exactly the number of
// nodes the program built, and, for one of them, a retainer path that ends at (GC roots) through
// the program's data segment (the global list_head holds the list). Exit 0, or 1 with a message.
'use strict';
const path = require('path');
const [modules, snapshotPath, factsPath] = process.argv.slice(2);
const puppeteer = require(path.join(modules, 'puppeteer-core'));
const facts = require(path.resolve(factsPath));

const DEEP = `(() => { const all = []; (function walk(root) { for (const e of root.querySelectorAll('*')) {
  all.push(e); if (e.shadowRoot) walk(e.shadowRoot); } })(document); return all; })()`;
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
let failures = 0;
const expect = (ok, what) => { if (!ok) { failures++; console.error('FAIL:', what); } };

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu'], defaultViewport: {width: 1280, height: 800}});
  try {
    const page = await browser.newPage();
    await page.goto('devtools://devtools/bundled/devtools_app.html', {waitUntil: 'load'});
    const tab = await page.waitForSelector('pierce/#tab-heap-profiler', {timeout: 30000});
    await tab.click();
    await sleep(1000);
    const load = await page.waitForSelector('pierce/button[aria-label^="Load profile"]');
    const [chooser] = await Promise.all([page.waitForFileChooser({timeout: 10000}), load.click()]);
    await chooser.accept([snapshotPath]);
    await page.waitForFunction(`${DEEP}.some(e => e.tagName === 'LI' &&
        e.classList.contains('heap-snapshot-sidebar-tree-item') && !e.classList.contains('wait'))`,
                               {timeout: 60000, polling: 500});
    const item = (await page.evaluateHandle(`${DEEP}.find(e => e.tagName === 'LI' &&
        e.classList.contains('heap-snapshot-sidebar-tree-item'))`)).asElement();
    await item.click();
    await page.waitForFunction(`${DEEP}.some(e => e.tagName === 'TR' && /^\\s*Node\\b/.test(e.textContent))`,
                               {timeout: 30000, polling: 500});
    // The Summary row of class Node: "Node ×1,000 ..." (the count is grouped with commas).
    const rowText = await page.evaluate(`${DEEP}.find(e => e.tagName === 'TR' &&
        /^\\s*Node\\b/.test(e.textContent)).querySelector('td').textContent`);
    const count = Number((/×\s*([\d,]+)/.exec(rowText) || [])[1]?.replace(/,/g, ''));
    expect(count === facts.nodes.length, `Summary: class Node shows ${count} objects (${JSON.stringify(rowText.slice(0, 60))}), the program built ${facts.nodes.length}`);
    expect(!await page.evaluate(`${DEEP}.some(e => e.tagName === 'TR' && /^\\s*Garbage\\b/.test(e.textContent))`),
           'Summary: the garbage class is listed, but nothing reaches it');
    // Expand Node, select its first object: the Retainers pane shows its path to the roots.
    const row = (await page.evaluateHandle(`${DEEP}.find(e => e.tagName === 'TR' &&
        /^\\s*Node\\b/.test(e.textContent))`)).asElement();
    await row.click();
    await page.keyboard.press('ArrowRight');
    await sleep(800);
    await page.keyboard.press('ArrowDown');
    await page.waitForFunction(`${DEEP}.some(e => e.tagName === 'TR' && e.textContent.includes('(GC roots)'))`,
                               {timeout: 30000, polling: 500});
    const retainers = await page.evaluate(`${DEEP}.filter(e => e.tagName === 'TR' &&
        /(GC roots)|\\+0x|\\[\\d+\\]/.test(e.textContent) && !/^\\s*Node\\b/.test(e.textContent))
        .map(e => e.textContent.replace(/\\s+/g, ' ').trim())`);
    expect(retainers.some(t => t.includes('(GC roots)')), 'Retainers: no path to (GC roots)');
    expect(retainers.some(t => /\+0x[0-9a-f]+/.test(t)),
           `Retainers: no edge from a data segment ("+0x... in <program>"): ${JSON.stringify(retainers.slice(0, 6))}`);
    console.log(`DevTools: Node x${count}, retainers: ${retainers.slice(0, 4).join(' | ')}`);
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(failures ? 1 : 0), e => {
  console.error('devtools_check.js:', e.stack || e.message);
  process.exit(1);
});
