'use strict';
// Pipeline benchmark, npm mailauth side (see bench/README.md, "Pipeline").
//
//   NODE_PATH=DIR/node_modules node bench/peer_mailauth_npm.js [--seconds S] [--rounds N]
//       [--ref MSGS_PER_S] [--show N] [--arc] [--bimi] [CORPUS]
//
// npm mailauth's authenticate() over the same messages, envelopes and zone
// as bench/check_bench.lua: DKIM (every signature), SPF, DMARC and the
// Authentication-Results/Received-SPF headers.  ARC and BIMI are off unless
// --arc/--bimi (mailauth.check does neither).  DNS comes from
// CORPUS/check/zone.json through authenticate()'s `resolver` option: an async
// function answering from answers built once at start (TXT split into
// strings of at most 255 bytes; a missing name is ENOTFOUND, a missing type
// ENODATA, as node's dns.promises.resolve throws them).  Messages are
// Buffers read before timing.  One untimed pass counts agreement, then whole
// passes (messages one after another, each awaited, as one SMTP session
// would) until at least --rounds passes and --seconds of timed work
// (PEER_TRACE=1 in the environment prints every pass's rate and heap).  Time is
// the process's CPU time (process.cpuUsage(): all threads, which taskset keeps
// on one core), as the Lua side uses; wall time goes to stderr.  Prints
//   npm-mailauth    1000/1000 agree (dkim 1000 spf 1000 dmarc 1000 action 1000)   900 msgs/s  0.20x (mailauth 4500)
const fs = require('fs');
const path = require('path');
const { authenticate } = require('mailauth');

const args = process.argv.slice(2);
const opt = { seconds: 3, rounds: 3, ref: 0, show: 0, arc: false, bimi: false, corpus: '/tmp/corpus' };
for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--seconds') opt.seconds = Number(args[++i]);
    else if (a === '--rounds') opt.rounds = Number(args[++i]);
    else if (a === '--ref') opt.ref = Number(args[++i]);
    else if (a === '--show') opt.show = Number(args[++i]);
    else if (a === '--arc') opt.arc = true;
    else if (a === '--bimi') opt.bimi = true;
    else if (a.startsWith('-')) {
        console.error('peer_mailauth_npm: unknown option ' + a);
        process.exit(2);
    } else opt.corpus = a;
}

const AUTHSERV = 'mx.bench.example';
const zoneRaw = JSON.parse(fs.readFileSync(path.join(opt.corpus, 'check', 'zone.json'), 'utf8'));
const envs = JSON.parse(fs.readFileSync(path.join(opt.corpus, 'check', 'envelopes.json'), 'utf8'));
const msgs = envs.map(e => fs.readFileSync(path.join(opt.corpus, 'dkim', 'msgs', e.file)));

// Answers in dns.promises.resolve's shapes, built once.
const zone = new Map();
for (const [name, rrs] of Object.entries(zoneRaw)) {
    const e = {};
    for (const [type, vals] of Object.entries(rrs)) {
        if (type === 'TXT') {
            e.TXT = vals.map(s => {
                const b = Buffer.from(s, 'utf8');
                const out = [];
                for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, i + 255).toString('utf8'));
                return out.length ? out : [''];
            });
        } else if (type === 'MX') {
            e.MX = vals.map(([priority, exchange]) => ({ priority, exchange }));
        } else {
            e[type] = vals.slice();
        }
    }
    zone.set(name, e);
}
function dnsError(code, name) {
    const err = new Error(`${code} ${name}`);
    err.code = code;
    return err;
}
let queries = 0;
async function resolver(name, type) {
    queries++;
    const n = String(name).replace(/\.$/, '').toLowerCase();
    const e = zone.get(n);
    if (!e) throw dnsError('ENOTFOUND', n);
    const v = e[type];
    if (!v || !v.length) throw dnsError('ENODATA', n);
    return v;
}

const options = e => ({
    ip: e.ip, helo: e.helo, sender: e.mail_from, mta: AUTHSERV, resolver,
    disableArc: !opt.arc, disableBimi: !opt.bimi
});

// The verdict mailauth.check's default rules give, from the DMARC outcome.
function action(dm) {
    const r = dm && dm.status && dm.status.result;
    if (r !== 'fail') return 'accept';
    const p = dm.policy || 'none';
    return p === 'none' ? 'accept' : p;
}

async function pass() {
    for (let i = 0; i < msgs.length; i++) await authenticate(msgs[i], options(envs[i]));
}

(async () => {
    const ok = { dkim: 0, spf: 0, dmarc: 0, action: 0, all: 0 };
    let shown = 0, bhNeutral = 0;
    for (let i = 0; i < msgs.length; i++) {
        const e = envs[i];
        const r = await authenticate(msgs[i], options(e));
        // npm mailauth reports a body hash mismatch as "neutral" (its
        // comment says "body hash did not verify"); counted as the fail it is.
        const dk = (r.dkim.results || []).map(x => {
            if (x.status.result === 'neutral' && /body hash/i.test(x.status.comment || '')) {
                bhNeutral++;
                return 'fail';
            }
            return x.status.result;
        }).join(',');
        const sp = r.spf && r.spf.status.result;
        const dm = r.dmarc ? r.dmarc.status.result : 'none';
        const act = action(r.dmarc);
        const m = { dkim: dk === e.dkim.join(','), spf: sp === e.spf, dmarc: dm === e.dmarc, action: act === e.action };
        m.all = m.dkim && m.spf && m.dmarc && m.action;
        for (const k of Object.keys(ok)) if (m[k]) ok[k]++;
        if (!m.all && shown < opt.show) {
            shown++;
            console.error(`npm-mailauth disagrees: ${e.file} dkim ${dk}/${e.dkim.join(',')} spf ${sp}/${e.spf} ` +
                `dmarc ${dm}/${e.dmarc} action ${act}/${e.action}`);
        }
    }
    const q0 = queries;
    const cpu = [], wall = [];
    let total = 0;
    while (cpu.length < opt.rounds || total < opt.seconds) {
        if (global.gc) global.gc();
        const c0 = process.cpuUsage();
        const w0 = process.hrtime.bigint();
        await pass();
        const c = process.cpuUsage(c0);
        const w = Number(process.hrtime.bigint() - w0) / 1e9;
        const s = (c.user + c.system) / 1e6;
        cpu.push(s);
        if (process.env.PEER_TRACE) console.error(`pass ${cpu.length}: ${(msgs.length / s).toFixed(0)} msgs/s cpu, ${(msgs.length / w).toFixed(0)} wall, heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
        wall.push(w);
        total += s;
    }
    const med = a => {
        const s = [...a].sort((x, y) => x - y);
        const n = s.length;
        return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    };
    const N = msgs.length;
    const rate = N / med(cpu);
    console.error(`npm-mailauth    ${cpu.length} passes: cpu min ${(N / Math.max(...cpu)).toFixed(0)} median ` +
        `${rate.toFixed(0)} max ${(N / Math.min(...cpu)).toFixed(0)} msgs/s; wall median ${(N / med(wall)).toFixed(0)} msgs/s; ` +
        `${((queries - q0) / cpu.length / N).toFixed(1)} resolver calls/msg; ${bhNeutral} body-hash failures reported as neutral; mailauth ${require('mailauth/package.json').version}, node ${process.version}`);
    let line = `${'npm-mailauth'.padEnd(15)} ${ok.all}/${N} agree (dkim ${ok.dkim} spf ${ok.spf} dmarc ${ok.dmarc} action ${ok.action}) ` +
        `${rate.toFixed(0).padStart(8)} msgs/s`;
    if (opt.ref > 0) line += `  ${(rate / opt.ref).toFixed(3)}x mailauth-check (mailauth ${(opt.ref / rate).toFixed(1)}x faster)`;
    console.log(line);
})().catch(err => {
    console.error(err);
    process.exit(1);
});
