// Join events of the default spec (orders ⋈ payments) from the camelCase Order / Payment of
// shared/ingest/validate.ts, for the state machine's tests: the record by wire name, key and identity as
// the spec says (order_id; payment_id).
import type { Order, Payment } from '../../shared/ingest/validate.ts';
import { planOf } from '../../shared/join/plan.ts';
import type { EventSource } from '../../shared/join/rows.ts';
import { type JoinEvent, joinEventOf } from '../../shared/join/state-machine.ts';
import { defaultJoinSpec } from '../../shared/spec/load.ts';

export function orderEvent(o: Order, source: EventSource): JoinEvent {
  const record = {
    order_id: o.orderId,
    order_date: o.orderDate,
    created_at: o.createdAt,
    customer_id: o.customerId,
    amount: o.amount,
  };
  return joinEventOf(planOf(defaultJoinSpec()), 'left', record, source);
}

export function paymentEvent(p: Payment, source: EventSource): JoinEvent {
  const record = {
    payment_id: p.paymentId,
    order_id: p.orderId,
    payment_date: p.paymentDate,
    created_at: p.createdAt,
    amount: p.amount,
  };
  return joinEventOf(planOf(defaultJoinSpec()), 'right', record, source);
}
