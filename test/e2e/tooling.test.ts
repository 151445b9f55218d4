import { writeFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serviceNames } from "../../services/shared/config.ts";
import { endpointTable, readyLineOf, repoRoot, startMesh } from "../../scripts/lib/launcher.ts";
import { prngFor, refundPlanFor } from "../../scripts/lib/prng.ts";
import { buildChecks, formatReport, type ReplayReport } from "../../scripts/lib/report.ts";
import { confusionOf, latencyRecorder, toJson } from "../../scripts/lib/stats.ts";
import { parseEventTime, readTransactions, toTransactionRow } from "../../scripts/lib/transactions.ts";
import { subjectMatches } from "../../scripts/lib/events-watch.ts";
import { merchantIdOf } from "../../scripts/lib/replay-run.ts";
import { luhnPan } from "../../scripts/lib/grpc-generic.ts";
import { verifySignatureLocal } from "../../scripts/lib/webhook-receiver.ts";
import { createHmac } from "node:crypto";

const dataFile = join(repoRoot, "data", "transactions.csv.gz");
const header = ",trans_date_trans_time,cc_num,merchant,category,amt,first,last,gender,street,city,state,zip,lat,long,city_pop,job,dob,trans_num,unix_time,merch_lat,merch_long,is_fraud";

describe("transactions CSV", () => {
  it("streams the committed gz file: 5,039 rows, 22 frauds, exact cents, 19-digit PANs kept as strings", async () => {
    let rows = 0;
    let frauds = 0;
    let totalMinor = 0n;
    let longPans = 0;
    const days = new Set<string>();
    for await (const row of readTransactions(dataFile)) {
      rows += 1;
      if (row.isFraud) frauds += 1;
      totalMinor += row.amountMinor;
      if (row.pan.length === 19) longPans += 1;
      days.add(row.businessDate);
    }
    expect(rows).toBe(5039);
    expect(frauds).toBe(22);
    expect(totalMinor).toBe(33_594_557n); // data/README.md: about $335,945.57
    expect(longPans).toBeGreaterThan(0);
    expect([...days]).toEqual(["2019-01-01", "2019-01-02", "2019-01-03", "2019-01-04"]);
  });

  it("honours --limit and keeps the first row's values exact", async () => {
    const rows = [];
    for await (const row of readTransactions(dataFile, 3)) rows.push(row);
    expect(rows).toHaveLength(3);
    expect(rows[0].eventTime.toISOString()).toBe("2019-01-01T00:00:18.000Z");
    expect(rows[0].amountMinor).toBe(497n); // 4.97
    expect(rows[0].category).toBe("misc_net");
    expect(rows[0].transNum).toMatch(/^[0-9a-f]{32}$/);
  });

  it("reads one-decimal amounts and 19-digit PANs exactly; rejects bad rows naming the column", () => {
    const dir = mkdtempSync(join(tmpdir(), "replay-csv-"));
    const file = join(dir, "t.csv");
    const line = (amt: string, pan: string) =>
      `0,2019-01-01 00:00:18,${pan},"fraud_Rippin, Kub and Mann",misc_net,${amt},Jennifer,Banks,F,561 Perry Cove,Moravian Falls,NC,28654,36.0788,-81.1781,3495,"Psychologist, counselling",1988-03-09,0b242abb623afc578575680df30655b9,1325376018,36.011293,-82.048315,0`;
    writeFileSync(file, `${header}\n${line("45.0", "4613314721966123456")}\n`);
    const record = Object.fromEntries(header.split(",").map((column, index) => [column, ""] as const)) as Record<string, string>;
    expect(readFileSync(file, "utf8")).toContain("45.0");
    const good = { ...record, trans_date_trans_time: "2019-01-01 00:00:18", cc_num: "4613314721966123456", merchant: "m", category: "misc_net", amt: "45.0", lat: "1", long: "2", merch_lat: "3", merch_long: "4", trans_num: "0b242abb623afc578575680df30655b9", is_fraud: "0" };
    const row = toTransactionRow(good, 1);
    expect(row.amountMinor).toBe(4500n);
    expect(row.pan).toBe("4613314721966123456");
    expect(() => toTransactionRow({ ...good, amt: "1.234" }, 7)).toThrow(/row 7: amt/);
    expect(() => toTransactionRow({ ...good, amt: "1e3" }, 7)).toThrow(/amt/);
    expect(() => toTransactionRow({ ...good, cc_num: "12ab" }, 7)).toThrow(/cc_num/);
    expect(() => toTransactionRow({ ...good, trans_num: "x" }, 7)).toThrow(/trans_num/);
    expect(() => parseEventTime("2019-01-01T00:00:18")).toThrow(/trans_date_trans_time/);
  });

  it("streams an uncompressed file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "replay-csv-"));
    const file = join(dir, "t.csv");
    writeFileSync(file, `${header}\n0,2019-01-02 23:59:59,4613314721966,fraud_X,grocery_pos,82.8,a,b,F,s,c,NJ,7640,40.1,-74.2,100,j,1980-01-01,0b242abb623afc578575680df30655b9,1325462399,40.2,-74.3,1\n`);
    const rows = [];
    for await (const row of readTransactions(file)) rows.push(row);
    expect(rows).toHaveLength(1);
    expect(rows[0].amountMinor).toBe(8280n);
    expect(rows[0].businessDate).toBe("2019-01-02");
    expect(rows[0].isFraud).toBe(true);
  });
});

describe("seeded refunds", () => {
  it("is deterministic per (seed, trans_num), about 2 %, and never above the captured amount", () => {
    let refunds = 0;
    for (let index = 0; index < 20_000; index += 1) {
      const key = index.toString(16).padStart(32, "0");
      const plan = refundPlanFor(42, key, 10_000n);
      expect(refundPlanFor(42, key, 10_000n)).toBe(plan);
      if (plan !== undefined) {
        refunds += 1;
        expect(plan >= 1n && plan <= 10_000n).toBe(true);
      }
    }
    expect(refunds).toBeGreaterThan(300);
    expect(refunds).toBeLessThan(500);
    expect(prngFor(1, "a").next()).not.toBe(prngFor(2, "a").next());
  });
});

describe("report math", () => {
  it("computes the confusion matrix with precision and recall", () => {
    const confusion = confusionOf([
      { predicted: true, actual: true },
      { predicted: true, actual: false },
      { predicted: false, actual: true },
      { predicted: false, actual: true },
      { predicted: false, actual: false },
    ]);
    expect(confusion).toMatchObject({ truePositive: 1, falsePositive: 1, falseNegative: 2, trueNegative: 1 });
    expect(confusion.precision).toBeCloseTo(0.5);
    expect(confusion.recall).toBeCloseTo(1 / 3);
    expect(confusionOf([]).precision).toBeNull();
  });

  it("summarizes latency percentiles", () => {
    const recorder = latencyRecorder();
    for (let micros = 1; micros <= 1000; micros += 1) recorder.recordMicros(micros * 1000);
    const summary = recorder.summary();
    expect(summary.count).toBe(1000);
    expect(summary.p50Ms).toBeGreaterThan(495);
    expect(summary.p50Ms).toBeLessThan(505);
    expect(summary.p99Ms).toBeGreaterThan(985);
  });

  it("passes a consistent report and fails each broken invariant", () => {
    const base = sampleReport();
    expect(buildChecks(base).every((check) => check.pass)).toBe(true);
    const failing = (report: Omit<ReplayReport, "checks" | "pass">) => buildChecks(report).filter((check) => !check.pass).map((check) => check.name);
    expect(failing({ ...base, ledger: { ...base.ledger, totals: [{ ...base.ledger.totals[0], debitsPosted: 1n }] } })).toEqual(["ledger balanced and audit ok"]);
    expect(failing({ ...base, events: { ...base.events, processed: { reporting: 9n, notification: 10n } } })).toEqual(["reporting processed every event exactly once"]);
    expect(failing({ ...base, webhooks: { ...base.webhooks, invalidSignatures: 1 } })).toEqual(["webhooks delivered and verified"]);
    expect(failing({ ...base, rpcErrors: { "Authorize:UNAVAILABLE": 1 } })).toEqual(["no unexpected RPC errors"]);
    expect(failing({ ...base, settlement: { ...base.settlement, netMinor: 1n } })).toEqual(["settlement batches add up"]);
    const text = formatReport({ ...base, checks: buildChecks(base), pass: true });
    expect(text).toContain("ALL CHECKS PASSED");
    expect(text).toContain("USD 1.00");
    expect(JSON.parse(toJson({ ...base, checks: [], pass: true })).settlement.grossMinor).toBe("100");
  });
});

describe("helpers", () => {
  it("matches NATS subjects", () => {
    expect(subjectMatches("p.authorization.v1.>", "p.authorization.v1.approved")).toBe(true);
    expect(subjectMatches("p.authorization.v1.>", "p.authorization.v1")).toBe(false);
    expect(subjectMatches("p.*.v1.approved", "p.authorization.v1.approved")).toBe(true);
    expect(subjectMatches("p.settlement.v1.>", "p.ledger.v1.transfers_committed")).toBe(false);
  });

  it("builds Luhn-valid bench PANs", () => {
    const luhnValid = (pan: string) =>
      [...pan].reverse().reduce((sum, char, index) => {
        let digit = Number(char);
        if (index % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
        return sum + digit;
      }, 0) % 10 === 0;
    expect(luhnPan("411111111111111")).toBe("4111111111111111");
    for (const body of ["490000000000000", "491234567890123", "400000000000999"]) expect(luhnValid(luhnPan(body))).toBe(true);
  });

  it("derives merchant ids from names", () => {
    expect(merchantIdOf("fraud_Rippin, Kub and Mann")).toMatch(/^m_[0-9a-f]{16}$/);
    expect(merchantIdOf("a")).not.toBe(merchantIdOf("b"));
  });

  it("verifies Stripe-style signatures with rotation and tolerance", () => {
    const body = '{"eventId":"evt_1"}';
    const now = new Date(1_700_000_000_000);
    const t = 1_700_000_000;
    const sign = (secret: string) => createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
    expect(verifySignatureLocal("s1", `t=${t},v1=${sign("s1")}`, body, 300, now)).toBe(true);
    expect(verifySignatureLocal("s1", `t=${t},v1=${sign("old")},v1=${sign("s1")}`, body, 300, now)).toBe(true);
    expect(verifySignatureLocal("s1", `t=${t},v1=${sign("s2")}`, body, 300, now)).toBe(false);
    expect(verifySignatureLocal("s1", `t=${t},v1=${sign("s1")}`, `${body} `, 300, now)).toBe(false);
    expect(verifySignatureLocal("s1", `t=${t},v1=${sign("s1")}`, body, 300, new Date(now.getTime() + 301_000))).toBe(false);
  });

  it("parses ready lines and ignores log lines", () => {
    expect(readyLineOf("ledger", '{"ready":"ledger","grpc":"127.0.0.1:1","http":"http://127.0.0.1:2"}', 5)).toMatchObject({ grpcUrl: "http://127.0.0.1:1", metrics: "http://127.0.0.1:2/metrics" });
    expect(readyLineOf("ledger", '{"level":"info","message":"ready"}', 5)).toBeUndefined();
    expect(readyLineOf("ledger", '{"ready":"fraud","grpc":"127.0.0.1:1","http":"http://127.0.0.1:2"}', 5)).toBeUndefined();
  });
});

describe("launcher against dummy children", () => {
  const dummy = join(repoRoot, "test", "support", "dummy-service.ts");
  const command = (name: string) => ({ file: process.execPath, args: [dummy, name] });

  it("starts every service in tiers, reports endpoints, and stops them cleanly", async () => {
    const mesh = await startMesh({ ports: "free", skipPreflight: true, logs: "silent", command });
    expect(Object.keys(mesh.endpoints).sort()).toEqual([...serviceNames].sort());
    expect(mesh.endpoints.ledger?.grpc).toBe(`127.0.0.1:${mesh.env.LEDGER_GRPC_PORT}`);
    expect(mesh.env.AUTHORIZATION_URL).toBe(`http://127.0.0.1:${mesh.env.AUTHORIZATION_GRPC_PORT}`);
    expect(endpointTable(mesh.endpoints)).toContain("Connect / gRPC-web");
    expect(await mesh.stop()).toBe(true);
    for (const endpoint of Object.values(mesh.endpoints)) expect(() => process.kill(endpoint.pid, 0)).toThrow();
  });

  it("fails with the child's last stderr lines when one exits before ready", async () => {
    await expect(
      startMesh({ skipPreflight: true, logs: "silent", command, env: { DUMMY_MODE: "fail" }, services: ["ledger"] }),
    ).rejects.toThrow(/ledger exited.*boom: cannot start/s);
  });

  it("times out a silent child and names it", async () => {
    await expect(
      startMesh({ skipPreflight: true, logs: "silent", command, env: { DUMMY_MODE: "silent" }, services: ["fraud"], readyTimeoutMs: 500, stopGraceMs: 2_000 }),
    ).rejects.toThrow(/fraud printed no ready line within 500 ms/);
  });

  it("reports an unexpected exit after ready", async () => {
    const mesh = await startMesh({ skipPreflight: true, logs: "silent", command, env: { DUMMY_MODE: "crash-after-ready", DUMMY_CRASH: "fraud" }, services: ["ledger", "fraud"], ports: "free" });
    const exit = await mesh.unexpectedExit;
    expect(exit).toMatchObject({ name: "fraud", code: 3 });
    expect(await mesh.stop()).toBe(false); // fraud did not exit 0
  });

  it("escalates to SIGKILL after the grace", async () => {
    const mesh = await startMesh({ skipPreflight: true, logs: "silent", command, env: { DUMMY_MODE: "stubborn" }, services: ["ledger"], ports: "free", stopGraceMs: 500 });
    expect(await mesh.stop()).toBe(false);
    expect(() => process.kill(mesh.endpoints.ledger!.pid, 0)).toThrow();
  });
});

function sampleReport(): Omit<ReplayReport, "checks" | "pass"> {
  const latency = { count: 1, p50Ms: 1, p95Ms: 1, p99Ms: 1, maxMs: 1 };
  return {
    input: { file: "f", rows: 2, limit: null, concurrency: 1, seed: 42, partnerId: "p", creditLimitMinor: 500_000n, currency: "USD", businessDates: ["2019-01-01"], merchants: 1, cards: 1 },
    authorizations: { rows: 2, decided: 2, approved: 1, declined: 1, declinesByCode: { "59": 1 }, rowsFailed: 0, rowsRejected: {} },
    fraud: { ...confusionOf([{ predicted: true, actual: true }]), fraudRows: 1, note: "" },
    derived: { note: "derived", captures: { count: 1, amountMinor: 100n }, refunds: { count: 0, full: 0, partial: 0, amountMinor: 0n, share: 0.02, fullShare: 0.5 }, closes: [{ businessDate: "2019-01-01", batches: 1, alreadyClosed: false, ok: true, ms: 1 }] },
    settlement: { batches: 1, grossMinor: 100n, refundsMinor: 0n, feesMinor: 2n, netMinor: 98n },
    ledger: { reachable: true, ok: true, violations: [], overduePendingCount: 0n, totals: [{ ledger: 840, debitsPending: 0n, creditsPending: 0n, debitsPosted: 5n, creditsPosted: 5n, accountCount: 3n, transferCount: 4n }] },
    events: { drained: true, streamSequences: { from: 1, to: 10 }, published: { all: 12, reporting: 10, notification: 10 }, processed: { reporting: 10n, notification: 10n }, lag: { reporting: 0, notification: 0 }, filters: { reporting: [], notification: [] } },
    webhooks: { verifier: "local", expected: 10, requests: 10, distinctReceived: 10, distinctVerified: 10, invalidSignatures: 0, duplicates: 0, missingEventId: 0, expectedVerified: 10 },
    reporting: null,
    performance: { elapsedSeconds: 1, rowsPerSecond: 2, authorize: latency, capture: latency },
    rpcErrors: {},
  };
}

describe("event counting on a real JetStream stream", () => {
  it("reads a sequence range, decodes event ids and partners, and measures a durable's lag", async () => {
    const { uniqueStreamNames, connectTestNats } = await import("../support/env.ts");
    const { ensureStream } = await import("../../services/shared/nats.ts");
    const { create, toBinary } = await import("@bufbuild/protobuf");
    const { AuthorizationEventSchema } = await import("../../gen/payments/authorization/v1/authorization_events_pb.js");
    const { headers } = await import("nats");
    const { readPublished, lastSequence, durableLag, consumerFilters } = await import("../../scripts/lib/events-watch.ts");
    const { stream, prefix } = uniqueStreamNames();
    const { nc, cleanup } = await connectTestNats(stream);
    try {
      await ensureStream(nc, stream, prefix);
      const js = nc.jetstream();
      for (let index = 0; index < 5; index += 1) {
        const event = create(AuthorizationEventSchema, { eventId: `evt_${index}`, authorization: { partnerId: index % 2 ? "p1" : "p2" } });
        const h = headers();
        h.set("Payments-Schema", AuthorizationEventSchema.typeName);
        await js.publish(`${prefix}.authorization.v1.approved`, toBinary(AuthorizationEventSchema, event), { msgID: `evt_${index}`, headers: h });
      }
      await js.publish(`${prefix}.settlement.v1.batch_settled`, new Uint8Array(), { msgID: "evt_settled" });
      // The ledger feed has its own stream: it never reaches the merchant-event stream.
      await js.publish(`${prefix}.ledger.v1.transfers_committed`, new Uint8Array(), { msgID: "evt_ledger" });
      const last = await lastSequence(nc, stream);
      expect(last).toBe(6);
      const events = await readPublished(nc, stream, 2, last);
      expect(events.map((event) => event.eventId)).toEqual(["evt_2", "evt_3", "evt_4", "evt_settled"]);
      expect(events.filter((event) => event.partnerId === "p1").map((event) => event.eventId)).toEqual(["evt_3"]);
      const jsm = await nc.jetstreamManager();
      await jsm.consumers.add(stream, { durable_name: `${stream}_reporting`, ack_policy: "explicit" as never });
      expect(await durableLag(nc, stream, `${stream}_reporting`)).toBe(6);
      expect(await consumerFilters(nc, stream, `${stream}_reporting`, [])).toEqual([`${prefix}.authorization.>`, `${prefix}.settlement.>`]);
      expect(await durableLag(nc, stream, `${stream}_nobody`)).toBeUndefined();
    } finally {
      await cleanup();
    }
  });
});
