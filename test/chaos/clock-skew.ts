// Test-only preload (chaos): shifts this process's wall clock by STREAMJOIN_CHAOS_CLOCK_SKEW_MS
// milliseconds — Date.now() and `new Date()` — so processes of one local stack disagree about the time
// as machines do. Loaded with NODE_OPTIONS="--import=<this file>" into the function processes the chaos
// suite starts; never part of the product. Monotonic clocks (performance.now, timers) are untouched.
const raw = process.env['STREAMJOIN_CHAOS_CLOCK_SKEW_MS'] ?? '0';
const skew = Number(raw);
if (!Number.isInteger(skew)) {
  throw new Error(`STREAMJOIN_CHAOS_CLOCK_SKEW_MS must be an integer (ms), but was: ${JSON.stringify(raw)}`);
}
if (skew !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  const SkewedDate = new Proxy(RealDate, {
    // `new Date()` is now + skew; every other form (a given time) is as it was.
    construct(target, args: unknown[], newTarget) {
      return args.length === 0
        ? Reflect.construct(target, [realNow() + skew], newTarget)
        : Reflect.construct(target, args, newTarget);
    },
    // `Date()` called as a function returns a string of the current time.
    apply() {
      return new RealDate(realNow() + skew).toString();
    },
    get(target, prop, receiver) {
      if (prop === 'now') return () => realNow() + skew;
      return Reflect.get(target, prop, receiver);
    },
  });
  globalThis.Date = SkewedDate;
}
