/** Runs `work` and returns the longest time (ms) this process's event loop went without turning meanwhile (sampled every 50 ms). */
export async function longestStall(work: () => Promise<void>): Promise<number> {
  let last = Date.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(longest, Date.now() - last);
}
