// check_snapshot.js: reads a Shade heap snapshot with v8-heapsnapshot (an independent parser
// from npm) and checks its content against the facts snapshot_graph.c wrote about the graph it
// built. Usage: node check_snapshot.js <node_modules dir> <snapshot> <facts.json> [at-exit]
// (a snapshot taken at exit has no "Local": main's frame is gone)
'use strict';
const path = require('path');
const fs = require('fs');
const [modules, snapshotPath, factsPath, when] = process.argv.slice(2);
const atExit = when === 'at-exit';
const v8hs = require(path.join(modules, 'v8-heapsnapshot'));
const facts = JSON.parse(fs.readFileSync(factsPath, 'utf8'));

let failures = 0;
function expect(condition, what) {
  if (!condition) {
    failures++;
    console.error(`FAIL ${snapshotPath}: ${what}`);
  }
}

// The retainer path from a root to `node`: breadth-first over in-edges, back to a node whose
// retainer is "(GC roots)". Returns [root node, edge from it, ..., node] as a list of edges.
function retainerPath(node) {
  const seen = new Set([node]);
  let frontier = [[node, []]];
  while (frontier.length) {
    const next = [];
    for (const [n, edges] of frontier) {
      for (const e of n.in_edges) {
        if (e.from.name === '(GC roots)')
          return edges;
        if (seen.has(e.from))
          continue;
        seen.add(e.from);
        next.push([e.from, [e, ...edges]]);
      }
    }
    frontier = next;
  }
  return null;
}

function countByName(snapshot) {
  const counts = new Map();
  for (const n of snapshot.nodes)
    counts.set(n.name, (counts.get(n.name) || 0) + 1);
  return counts;
}

v8hs.parseSnapshotFromFile(snapshotPath).then((snapshot) => {
  const byId = (id) => snapshot.findNodeById(id);
  const counts = countByName(snapshot);
  // Node counts per type name: what the program built, and no garbage.
  expect(counts.get('Node') === 1000, `1000 "Node" nodes, found ${counts.get('Node')}`);
  expect(counts.get('Cycle') === 2, `2 "Cycle" nodes, found ${counts.get('Cycle')}`);
  expect(counts.get('Leaf') === 1, `1 "Leaf", found ${counts.get('Leaf')}`);
  expect(counts.get('Traced') === 1, `1 "Traced", found ${counts.get('Traced')}`);
  expect(counts.get('Local') === (atExit ? undefined : 1), `1 "Local", found ${counts.get('Local')}`);
  expect(!counts.has('Garbage'), `no "Garbage" node, found ${counts.get('Garbage')}`);
  // Ids are unique.
  const ids = new Set(snapshot.nodes.map((n) => n.id));
  expect(ids.size === snapshot.nodes.length, 'node ids are unique');
  // The root structure.
  const root = snapshot.nodes[0];
  expect(root.type === 'synthetic' && root.out_edges.length === 1 &&
         root.out_edges[0].to.name === '(GC roots)', 'root -> (GC roots)');
  // The list: node i's word 0 points to node i + 1, word 1 to its buffer (i < 10).
  const nodes = facts.nodes.map(byId);
  expect(nodes.every((n) => n && n.name === 'Node' && n.type === 'object'),
         'every list node is in the snapshot by its id, named Node');
  for (let i = 0; i < nodes.length && nodes[i]; i++) {
    const next = nodes[i].out_edges.filter((e) => e.type === 'element' && e.name === 0);
    if (i + 1 < nodes.length)
      expect(next.length === 1 && next[0].to === nodes[i + 1], `node ${i} [0] -> node ${i + 1}`);
    else
      expect(next.length === 0, 'the last node has no [0] edge');
    const buffer = nodes[i].out_edges.filter((e) => e.name === 1);
    if (i < facts.buffers.length)
      expect(buffer.length === 1 && buffer[0].to.id === facts.buffers[i],
             `node ${i} [1] -> its buffer`);
    else
      expect(buffer.length === 0, `node ${i} has no buffer edge`);
    if (failures > 5)
      break;
  }
  // Atomic buffers: native nodes, named by kind and size class, no edges.
  for (const id of facts.buffers) {
    const b = byId(id);
    expect(b && b.type === 'native' && /^atomic \d+ bytes$/.test(b.name) && b.self_size >= 100 &&
           b.out_edges.length === 0, `atomic buffer ${id}: ${b && b.toString()}`);
  }
  // Why is node 500 alive? The global list_head, in the program's data segment.
  const path500 = retainerPath(nodes[500]);
  expect(path500 !== null, 'node 500 has a retainer path to a root');
  if (path500) {
    expect(path500[0].from.name === facts.program && path500[0].name === facts.list_head_edge,
           `node 500's path starts at ${facts.program} ${facts.list_head_edge}, ` +
           `found ${path500[0].from.name} ${path500[0].name}`);
    expect(path500.length === 501 && path500[0].to === nodes[0],
           `node 500's path goes down the list from node 0 (length ${path500.length})`);
  }
  // The cycle: held by the user root range, each pointing at the other.
  const [a, b] = facts.cycle.map(byId);
  expect(a && b && a.out_edges.some((e) => e.to === b) && b.out_edges.some((e) => e.to === a),
         'the cycle\'s two objects point at each other');
  const pathB = b && retainerPath(b);
  expect(pathB && pathB[0].from.name === facts.user_range && pathB[0].to === a,
         `the cycle is retained by "${facts.user_range}"`);
  // The uncollectable holder, and the leaf it holds.
  const retainedBy = (node, name, edgeName) => node && node.in_edges.some(
      (e) => e.from.name === name && (edgeName === undefined || e.name === edgeName));
  const holder = byId(facts.holder);
  expect(holder && /^uncollectable \d+ bytes$/.test(holder.name) &&
         retainedBy(holder, '(uncollectable objects)') &&
         holder.out_edges.some((e) => e.name === 0 && e.to.id === facts.leaf),
         'the leaf is held by an uncollectable object, under "(uncollectable objects)"');
  // The trace callback's visits: [0] -> node 0, [1] -> node 999.
  const traced = byId(facts.traced);
  expect(traced && traced.out_edges.length === 2 && traced.out_edges[0].to === nodes[0] &&
         traced.out_edges[1].to === nodes[999], 'Traced visits node 0 and node 999');
  // An interior pointer in a global keeps a conservative block.
  const block = byId(facts.block);
  expect(block && /^conservative \d+ bytes$/.test(block.name) &&
         retainedBy(block, facts.program, facts.interior_edge),
         'a conservative block retained by an interior pointer in a global');
  // An object held by main's stack (or registers).
  const local = byId(facts.local);
  if (!atExit) {
  const pathLocal = local && retainerPath(local);
  expect(pathLocal && pathLocal[0].from.name === facts.main_thread,
         `"Local" retained by "${facts.main_thread}", found ` +
         `${pathLocal && pathLocal[0].from.name}`);
  }
  if (failures) {
    console.error(`${failures} check(s) failed`);
    process.exit(1);
  }
  console.log(`${snapshotPath}: ${snapshot.nodes.length} nodes, ${snapshot.edges.length} ` +
              'edges: every check passed');
}).catch((error) => {
  console.error(`FAIL ${snapshotPath}: the parser rejected it: ${error.stack || error}`);
  process.exit(1);
});
