// Signs webhook bodies with Stripe's own SDK, so the C++ tests check effectd
// against Stripe's signing rather than against a reimplementation of it.
//
// stdin:  one JSON object per line: {"payload": "<raw body>", "secret": "whsec_...", "timestamp": <unix, optional>}
// stdout: one line per request, in order: the Stripe-Signature header value.
// Answers each line as soon as it arrives (a long-lived child can be fed
// request by request) and exits when stdin closes. A bad request ends the
// process with status 1 and the reason on stderr, so the caller sees EOF
// instead of waiting for a line that will never come.
import { createInterface } from "node:readline";
import Stripe from "stripe";

// The key is never used: signing is local and makes no API call.
const stripe = new Stripe("sk_test_unused");

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === "") continue;
  try {
    const { payload, secret, timestamp } = JSON.parse(line);
    if (typeof payload !== "string" || typeof secret !== "string") {
      throw new Error('"payload" and "secret" must be strings');
    }
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
    // Writes to a pipe are synchronous on Linux: each answer is flushed here.
    process.stdout.write(header + "\n");
  } catch (err) {
    process.stderr.write(`sign.mjs: ${err.message}\n`);
    process.exit(1);
  }
}
