// check_trace_model.js TRACE STATS MODULE_DIR: reads a Shade trace with @tracerbench/trace-model,
// a Chrome Trace Event parser nobody here wrote (it pairs "B"/"E" per thread, names threads from
// "M" events, nests complete events), and checks what it built against the run's statistics.
'use strict';
const fs = require('fs');
const path = require('path');
const [tracePath, statsPath, moduleDir] = process.argv.slice(2);
const { buildModel } = require(path.join(moduleDir, 'node_modules', '@tracerbench', 'trace-model'));
const trace = JSON.parse(fs.readFileSync(tracePath, 'utf8'));
const stats = JSON.parse(fs.readFileSync(statsPath, 'utf8'));
const model = buildModel(trace);
const failures = [];
const expect = (cond, what) => { if (!cond) failures.push(what); };

const threads = model.processes.flatMap((p) => p.threads);
const names = threads.map((t) => t.name);
expect(names.includes('shade-gc cycles'), 'cycles track named');
expect(names.some((n) => n.startsWith('mutator ')), `a mutator track (${names})`);
if (stats.mode === 'concurrent') expect(names.includes('shade-gc'), `controller track (${names})`);
for (const t of threads) expect(t.name !== '', `thread ${t.id} has a name`);

// B/E pairs became complete events; one left unpaired would run to the trace's start or end.
const pauses = model.events.filter((e) => e.isComplete() && e.name === 'pause');
// every stop of the world but the verifier's is a pause (a concurrent cycle has one, at mark termination)
const expected = stats.pauses;
expect(pauses.length === expected, `${pauses.length} pauses, statistics ${expected}`);
const totalNs = pauses.reduce((sum, e) => sum + e.duration * 1000, 0);
expect(Math.abs(totalNs - stats.pause_total_ns) <= 1 + pauses.length * 0.01,
  `pause total ${totalNs} ns, statistics ${stats.pause_total_ns}`);
const longest = Math.max(0, ...pauses.map((e) => e.duration * 1000));
expect(Math.abs(longest - stats.pause_max_ns) <= 1, `longest ${longest}, statistics ${stats.pause_max_ns}`);
for (const e of model.events) {
  if (!e.isComplete()) continue;
  expect(e.traceEvent.ph !== 'E', `${e.name} at ${e.start}: an E without its B`);
  // (the controller's background sweep may still run when the file is closed: check_trace.py)
  if (e.traceEvent.ph === 'B' && e.name !== 'background sweep')
    expect(e.end < model.end, `${e.name} at ${e.start}: a B without its E`);
  if (e.parent) expect(e.start >= e.parent.start && e.end <= e.parent.end,
    `${e.name} [${e.start}, ${e.end}] not inside ${e.parent.name} [${e.parent.start}, ${e.parent.end}]`);
}
const cycles = model.events.filter((e) => e.isComplete() && e.name === 'gc cycle');
expect(cycles.length === stats.cycles, `${cycles.length} cycles, statistics ${stats.cycles}`);
const counters = new Set(model.events.filter((e) => e.isCounter()).map((e) => e.name));
for (const c of ['heap_in_use', 'heap_live', 'heap_goal', 'heap_mapped', 'heap_resident'])
  expect(counters.has(c), `counter ${c}`);
console.log(`trace-model: ${model.events.length} events, ${threads.length} threads, ` +
  `${pauses.length} pauses (${(totalNs / 1e6).toFixed(3)} ms), ${cycles.length} cycles`);
for (const f of failures.slice(0, 20)) console.log('FAIL:', f);
process.exit(failures.length ? 1 : 0);
