// bench/etcd/etcd-load.js: the etcd side of pilot-bench's comparison
// (bench/run-etcd-bench runs it against three etcd members on 127.0.0.1).
// Same closed loop, same points and the same key=value lines as pilot-bench,
// so that compare-bench can divide one by the other:
//   writes.leader.cN / writes.any.cN    put of a ~100 B value (N in flight)
//   resolve.leader.cN / .follower.cN    "may A reach B?" as a read-only txn
//                                       of 3 gets, linearizable
//   resolve.stale.cN                    same, serializable at a follower
//   kick_deny.stale.all                 a put seen by a watcher on every
//                                       member (time from the put being sent)
// One gRPC connection per member, requests multiplexed on it (like etcd's
// own benchmark tool with --conns=1). usage:
//   node etcd-load.js --endpoints H:P,H:P,H:P [--clients 1,16,64,256]
//                     [--seconds 5] [--watch-trials 200] [--pid-dir D] [--tag T]
// With --pid-dir (D/etcd<i>.pid for the i-th endpoint, 1-based) every point
// also reports CPU per operation of the leader, the followers and this
// driver, as pilot-bench does: the fair figure when the driver is the
// bottleneck.
'use strict';
const fs = require('fs');
const { Etcd3 } = require('etcd3');

function parseArgs(argv) {
  const o = { endpoints: null, clients: [1, 16, 64, 256], seconds: 5, watchTrials: 200, tag: null,
    pidDir: null };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i], v = argv[i + 1];
    if (v === undefined) throw new Error(`${k} needs a value`);
    if (k === '--endpoints') o.endpoints = v.split(',');
    else if (k === '--clients') o.clients = v.split(',').map(Number);
    else if (k === '--seconds') o.seconds = Math.min(20, Math.max(1, Number(v)));
    else if (k === '--watch-trials') o.watchTrials = Number(v);
    else if (k === '--tag') o.tag = v;
    else if (k === '--pid-dir') o.pidDir = v;
    else if (k !== '--kick-trials' && k !== '--kick-load' && k !== '--failover-trials') {
      throw new Error(`unknown option ${k}`);
    }
  }
  if (!o.endpoints) throw new Error('--endpoints is required');
  if (o.clients.some((n) => !(n >= 1 && n <= 1024))) throw new Error('bad --clients');
  return o;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// utime + stime of a process in us (/proc/<pid>/stat, clock ticks of 10 ms).
function procCpuUs(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10000;
}

function cpuBegin(opts) {
  const pids = opts.pidDir ? opts.endpoints.map((_, i) =>
    Number(fs.readFileSync(`${opts.pidDir}/etcd${i + 1}.pid`, 'utf8'))) : [];
  const u = process.cpuUsage();
  return { pids, nodes: pids.map(procCpuUs), self: u.user + u.system };
}

function cpuEnd(opts, c, leader, ops) {
  if (ops === 0) return '';
  const u = process.cpuUsage();
  let text = '';
  if (c.pids.length) {
    const d = c.pids.map((p, i) => procCpuUs(p) - c.nodes[i]);
    const fol = d.filter((_, i) => i !== leader);
    text = `cpu_leader_us=${(d[leader] / ops).toFixed(1)} ` +
      `cpu_follower_us=${(fol.reduce((a, b) => a + b, 0) / fol.length / ops).toFixed(1)} `;
  }
  return text + `cpu_client_us=${((u.user + u.system - c.self) / ops).toFixed(1)}`;
}

function pct(sorted, q) {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] / 1000;
}

function print(opts, label, lat, errs, secs, extra) {
  const s = Float64Array.from(lat).sort();
  const f = (x) => x.toFixed(3);
  process.stdout.write(`label=${label} ops=${s.length} errs=${errs} secs=${secs.toFixed(2)} ` +
    `ops_per_s=${(s.length / secs).toFixed(0)} p50_ms=${f(pct(s, 0.5))} p90_ms=${f(pct(s, 0.9))} ` +
    `p99_ms=${f(pct(s, 0.99))} max_ms=${f(s.length ? s[s.length - 1] / 1000 : 0)}` +
    `${extra ? ' ' + extra : ''}${opts.tag ? ' run=' + opts.tag : ''}\n`);
}

const client = (ep) => new Etcd3({ hosts: `http://${ep}` });

async function findLeader(clients) {
  for (let i = 0; i < clients.length; i++) {
    const st = await clients[i].maintenance.status();
    if (st.leader === st.header.member_id) return i;
  }
  throw new Error('no leader');
}

const value = Buffer.alloc(100, 'v');

// One closed-loop point: n loops, each sending its next request when the
// previous one is answered, for opts.seconds.
async function point(opts, label, n, pick, op, leader) {
  const lat = [];
  let errs = 0;
  const cpu = cpuBegin(opts);
  const start = nowUs(), end = start + opts.seconds * 1e6;
  const loops = [];
  for (let i = 0; i < n; i++) {
    loops.push((async () => {
      let k = 0;
      while (nowUs() < end) {
        const t = nowUs();
        try {
          await op(pick(i), i, k++);
          lat.push(nowUs() - t);
        } catch (e) {
          errs++;
        }
      }
    })());
  }
  await Promise.all(loops);
  print(opts, label, lat, errs, (nowUs() - start) / 1e6, cpuEnd(opts, cpu, leader, lat.length));
}

const put = (c, i, k) => c.kv.put({ key: Buffer.from(`pb/w/${i}/${k % 64}`), value });
const txn3 = (serializable) => (c, i) => c.kv.txn({
  success: ['a', 'b', 'c'].map((x) => ({
    request_range: { key: Buffer.from(`pb/r/${i % 64}/${x}`), serializable },
  })),
});

async function watchTrials(opts, clients) {
  const lat = [];
  let errs = 0;
  const start = nowUs();
  for (let t = 0; t < opts.watchTrials; t++) {
    const key = `pb/kick/${t}`;
    const seen = [];
    const watchers = await Promise.all(clients.map((c) => c.watch().key(key).create()));
    const waits = watchers.map((w) => new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), 2000);
      w.on('put', () => { clearTimeout(timer); resolve(nowUs()); });
    }));
    const t0 = nowUs();
    await clients[0].kv.put({ key: Buffer.from(key), value });
    const times = await Promise.all(waits);
    for (const x of times) seen.push(x);
    if (seen.some((x) => x === null)) errs++;
    else lat.push(Math.max(...seen) - t0);
    await Promise.all(watchers.map((w) => w.cancel()));
    if (nowUs() - start > 20e6) break;
  }
  print(opts, 'kick_deny.stale.all', lat, errs, (nowUs() - start) / 1e6, 'what=put_seen_by_watch_on_every_member');
}

async function main() {
  const opts = parseArgs(process.argv);
  const clients = opts.endpoints.map(client);
  const leader = await findLeader(clients);
  const follower = (leader + 1) % clients.length;
  for (let i = 0; i < 64; i++) {
    for (const x of ['a', 'b', 'c']) await clients[leader].kv.put({ key: Buffer.from(`pb/r/${i}/${x}`), value });
  }
  const targets = {
    leader: () => clients[leader],
    any: (i) => clients[i % clients.length],
    follower: () => clients[follower],
  };
  for (const t of ['leader', 'any']) {
    for (const n of opts.clients) await point(opts, `writes.${t}.c${n}`, n, targets[t], put, leader);
  }
  for (const t of ['leader', 'follower', 'stale']) {
    for (const n of opts.clients) {
      await point(opts, `resolve.${t}.c${n}`, n, t === 'leader' ? targets.leader : targets.follower,
        txn3(t === 'stale'), leader);
    }
  }
  await watchTrials(opts, clients);
  clients.forEach((c) => c.close());
}

main().catch((e) => { process.stderr.write(`etcd-load: ${e.message}\n`); process.exit(1); });
