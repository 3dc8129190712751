/**
 * Event-loop delay of a benchmark child over a measured window (perf_hooks.monitorEventLoopDelay,
 * 1 ms resolution): the parent writes `loop-delay:reset` on the child's stdin when its window
 * starts and `loop-delay:report` when it ends; the child answers the report with one JSON line.
 * A stall in the server (index work, a long synchronous query, GC) shows here even when the
 * request latencies hide it among queueing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

export interface LoopDelay {
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

const ms = (ns: number): number => Math.round(ns / 1e4) / 100;

/** In a child: answers the parent's loop-delay commands on stdin (call once, after the ready line). */
export function answerLoopDelayCommands(): void {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'loop-delay:reset') histogram.reset();
    else if (line === 'loop-delay:report') {
      const loopDelay: LoopDelay = {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
      };
      process.stdout.write(`${JSON.stringify({ loopDelay })}\n`);
    }
  });
}
