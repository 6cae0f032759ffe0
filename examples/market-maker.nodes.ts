/**
 * Node functions of the market-maker graph of Cloacina's API example: `decision` routes to `signal_handler` when
 * the combined signal clears the threshold, and to `audit_logger` otherwise.
 */

export interface Alpha {
  readonly value: number;
}
export interface Beta {
  readonly estimate: number;
}

export function decision(
  alpha: Alpha | undefined,
  beta: Beta | undefined,
): ['Signal', { output: number }] | ['NoAction', { reason: string }] {
  const total = (alpha?.value ?? 0) + (beta?.estimate ?? 0);
  if (total > 10) return ['Signal', { output: total }];
  return ['NoAction', { reason: 'below threshold' }];
}

export function signal_handler(_signal: { output: number }): { published: boolean } {
  return { published: true };
}

export function audit_logger(_reason: { reason: string }): { logged: boolean } {
  return { logged: true };
}
