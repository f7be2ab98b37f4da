import { DomainError, NotFoundError, ValidationError } from '../../services/finance/src/domain/errors';
import { ACCOUNTS, FinanceEvent, InvoiceApproved, InvoiceCancelled, InvoiceCreated, PaymentRecorded } from '../../services/finance/src/domain/events';
import {
  CreateInvoice,
  decideInvoice,
  evolveInvoice,
  ExistingInvoice,
  foldInvoice,
  initialInvoiceState,
  InvoiceCommand,
  InvoiceEvent,
  InvoiceState,
  invoiceDecider,
  RecordPayment,
} from '../../services/finance/src/domain/invoice';
import { postingTotals } from '../../services/finance/src/domain/postings';

const INVOICE_ID = '11111111-1111-4111-8111-111111111111';
const NOW = '2026-11-26T09:00:00.000Z';

function createCommand(overrides: Partial<CreateInvoice['data']> = {}): CreateInvoice {
  return {
    type: 'CreateInvoice',
    data: {
      invoiceId: INVOICE_ID,
      customerId: 'C-1001',
      currency: 'BDT',
      dueDate: '2026-12-31',
      lines: [{ description: 'Cement 50kg', quantityMilli: 10000n, unitPriceMinor: 55000n, vatRateBp: 1500 }],
      now: NOW,
      ...overrides,
    },
  };
}

const approve = (journalEntryId = 'je-approve'): InvoiceCommand => ({ type: 'ApproveInvoice', data: { invoiceId: INVOICE_ID, journalEntryId, now: NOW, entryDate: NOW.slice(0, 10) } });
const cancel = (reason = 'customer withdrew'): InvoiceCommand => ({
  type: 'CancelInvoice',
  data: { invoiceId: INVOICE_ID, reason, journalEntryId: 'je-reversal', now: NOW, entryDate: NOW.slice(0, 10) },
});
function pay(amountMinor: bigint, overrides: Partial<RecordPayment['data']> = {}): RecordPayment {
  return {
    type: 'RecordPayment',
    data: {
      invoiceId: INVOICE_ID,
      paymentId: `pay-${amountMinor}-${Math.random()}`,
      journalEntryId: 'je-pay',
      amountMinor,
      method: 'bank_transfer',
      reference: 'TRX-1',
      paidAt: '2026-11-26T10:00:00.000Z',
      entryDate: '2026-11-26',
      ...overrides,
    },
  };
}

/** Decides each command on the state so far, folding the events in; returns the final state and all events. */
function run(commands: InvoiceCommand[], start: InvoiceState = initialInvoiceState()): { state: InvoiceState; events: InvoiceEvent[] } {
  let state = start;
  const events: InvoiceEvent[] = [];
  for (const command of commands) {
    const decided = invoiceDecider.decide(command, state);
    events.push(...decided);
    state = decided.reduce(invoiceDecider.evolve, state);
  }
  return { state, events };
}

function expectDomainError(run: () => unknown, code: string): DomainError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(code);
    return error as DomainError;
  }
  throw new Error(`expected DomainError ${code}`);
}

const existing = (state: InvoiceState): ExistingInvoice => {
  if (!state.exists) throw new Error('no invoice');
  return state;
};

describe('invoice decider: create', () => {
  it('creates a DRAFT with per-line net and VAT and the totals (the 6325.00 example)', () => {
    const [event] = decideInvoice(createCommand(), initialInvoiceState());
    expect(event.type).toBe('InvoiceCreated');
    const data = event.data as InvoiceCreated;
    expect(data).toEqual({
      invoiceId: INVOICE_ID,
      customerId: 'C-1001',
      currency: 'BDT',
      dueDate: '2026-12-31',
      lines: [{ description: 'Cement 50kg', quantityMilli: '10000', unitPriceMinor: '55000', vatRateBp: 1500, netMinor: '550000', vatMinor: '82500' }],
      subtotalMinor: '550000',
      vatMinor: '82500',
      totalMinor: '632500',
      createdAt: NOW,
    });
    const state = existing(evolveInvoice(initialInvoiceState(), event));
    expect(state.status).toBe('DRAFT');
    expect(state.totalMinor).toBe(632500n);
  });

  it('rounds VAT per line, then sums the lines', () => {
    const [event] = decideInvoice(
      createCommand({
        lines: [
          { description: 'a', quantityMilli: 1000n, unitPriceMinor: 10n, vatRateBp: 1500 }, // VAT 0.015 → 0.02
          { description: 'b', quantityMilli: 1000n, unitPriceMinor: 10n, vatRateBp: 1500 }, // VAT 0.015 → 0.02
        ],
      }),
      initialInvoiceState(),
    );
    const data = event.data as InvoiceCreated;
    expect(data.lines.map((l) => l.vatMinor)).toEqual(['2', '2']);
    expect(data.vatMinor).toBe('4'); // not round(0.03) = 3
    expect(data.totalMinor).toBe('24');
  });

  it('rejects an invoice without lines, with a zero total, or that already exists', () => {
    expectDomainError(() => decideInvoice(createCommand({ lines: [] }), initialInvoiceState()), 'INVOICE_NO_LINES');
    expectDomainError(
      () => decideInvoice(createCommand({ lines: [{ description: 'free', quantityMilli: 1000n, unitPriceMinor: 0n, vatRateBp: 1500 }] }), initialInvoiceState()),
      'INVOICE_TOTAL_ZERO',
    );
    const { state } = run([createCommand()]);
    expectDomainError(() => decideInvoice(createCommand(), state), 'INVOICE_ALREADY_EXISTS');
  });

  it('refuses a line or a total beyond the largest amount, naming the line or the lines', () => {
    const fieldOf = (lines: CreateInvoice['data']['lines']): string => {
      try {
        decideInvoice(createCommand({ lines }), initialInvoiceState());
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).field;
      }
      throw new Error('expected a ValidationError');
    };
    const max = 10n ** 17n - 1n;
    const small = { description: 'bolt', quantityMilli: 1000n, unitPriceMinor: 100n, vatRateBp: 0 };
    expect(fieldOf([small, { description: 'steel', quantityMilli: 2000n, unitPriceMinor: max, vatRateBp: 0 }])).toBe('lines[1]');
    expect(fieldOf([{ description: 'steel', quantityMilli: 1000n, unitPriceMinor: max, vatRateBp: 1 }])).toBe('lines');
    const [created] = decideInvoice(createCommand({ lines: [{ description: 'steel', quantityMilli: 1000n, unitPriceMinor: max, vatRateBp: 0 }] }), initialInvoiceState());
    expect(created.type === 'InvoiceCreated' && created.data.totalMinor).toBe(max.toString());
  });

  it('commands on a missing invoice are NotFound', () => {
    expect(() => decideInvoice(approve(), initialInvoiceState())).toThrow(NotFoundError);
    expect(() => decideInvoice(pay(1n), initialInvoiceState())).toThrow(NotFoundError);
    expect(() => decideInvoice(cancel(), initialInvoiceState())).toThrow(NotFoundError);
  });
});

describe('invoice decider: approve', () => {
  it('approves a DRAFT with the implied entry: Dr receivable 6325.00 / Cr revenue 5500.00, VAT payable 825.00', () => {
    const { state, events } = run([createCommand(), approve('je-1')]);
    expect(existing(state).status).toBe('APPROVED');
    const approved = events[1].data as InvoiceApproved;
    expect(approved.journalEntryId).toBe('je-1');
    expect(approved.approvedAt).toBe(NOW);
    expect(approved.postings).toEqual([
      { accountCode: ACCOUNTS.accountsReceivable, debitMinor: '632500', creditMinor: '0' },
      { accountCode: ACCOUNTS.revenue, debitMinor: '0', creditMinor: '550000' },
      { accountCode: ACCOUNTS.vatPayable, debitMinor: '0', creditMinor: '82500' },
    ]);
    const totals = postingTotals(approved.postings);
    expect(totals.debitMinor).toBe(totals.creditMinor);
  });

  it('omits the VAT line when an invoice has no VAT', () => {
    const { events } = run([createCommand({ lines: [{ description: 'exempt', quantityMilli: 1000n, unitPriceMinor: 100n, vatRateBp: 0 }] }), approve()]);
    expect((events[1].data as InvoiceApproved).postings).toEqual([
      { accountCode: ACCOUNTS.accountsReceivable, debitMinor: '100', creditMinor: '0' },
      { accountCode: ACCOUNTS.revenue, debitMinor: '0', creditMinor: '100' },
    ]);
  });

  it('rejects approving twice, after payment, or when cancelled', () => {
    const approved = run([createCommand(), approve()]).state;
    expectDomainError(() => decideInvoice(approve(), approved), 'INVOICE_ALREADY_APPROVED');
    const partly = run([pay(100n)], approved).state;
    expectDomainError(() => decideInvoice(approve(), partly), 'INVOICE_ALREADY_APPROVED');
    const cancelled = run([createCommand(), cancel()]).state;
    expectDomainError(() => decideInvoice(approve(), cancelled), 'INVOICE_CANCELLED');
  });
});

describe('invoice decider: payments', () => {
  it('goes APPROVED → PARTIALLY_PAID → PAID with the implied cash/bank entries', () => {
    const approved = run([createCommand(), approve()]).state;
    const first = run([pay(316250n)], approved);
    expect(existing(first.state).status).toBe('PARTIALLY_PAID');
    expect(existing(first.state).paidMinor).toBe(316250n);
    const recorded = first.events[0].data as PaymentRecorded;
    expect(recorded.amountMinor).toBe('316250');
    expect(recorded.method).toBe('bank_transfer');
    expect(recorded.postings).toEqual([
      { accountCode: ACCOUNTS.bank, debitMinor: '316250', creditMinor: '0' },
      { accountCode: ACCOUNTS.accountsReceivable, debitMinor: '0', creditMinor: '316250' },
    ]);
    const second = run([pay(316250n)], first.state);
    expect(existing(second.state).status).toBe('PAID');
    expectDomainError(() => decideInvoice(pay(1n), second.state), 'INVOICE_ALREADY_PAID');
  });

  it.each([
    ['cash', ACCOUNTS.cash],
    ['bank_transfer', ACCOUNTS.bank],
    ['cheque', ACCOUNTS.bank],
    ['mobile_banking', ACCOUNTS.mobileWallet],
  ] as const)('debits the right account for %s', (method, account) => {
    const approved = run([createCommand(), approve()]).state;
    const [event] = decideInvoice(pay(500n, { method }), approved);
    expect((event.data as PaymentRecorded).postings[0]).toEqual({ accountCode: account, debitMinor: '500', creditMinor: '0' });
  });

  it('rejects overpayment, naming the outstanding amount', () => {
    const approved = run([createCommand(), approve()]).state;
    const error = expectDomainError(() => decideInvoice(pay(632501n), approved), 'OVERPAYMENT');
    expect(error.details).toEqual({ amount: '6325.01', outstanding: '6325.00' });
    const partly = run([pay(600000n)], approved).state;
    expect(expectDomainError(() => decideInvoice(pay(32501n), partly), 'OVERPAYMENT').details.outstanding).toBe('325.00');
    expect(decideInvoice(pay(32500n), partly)).toHaveLength(1);
  });

  it('rejects payments on a DRAFT or CANCELLED invoice', () => {
    const draft = run([createCommand()]).state;
    expectDomainError(() => decideInvoice(pay(100n), draft), 'INVOICE_NOT_APPROVED');
    const cancelled = run([createCommand(), approve(), cancel()]).state;
    expectDomainError(() => decideInvoice(pay(100n), cancelled), 'INVOICE_CANCELLED');
  });

  it('rejects non-positive amounts, a currency mismatch and a duplicate payment id', () => {
    const approved = run([createCommand(), approve()]).state;
    expectDomainError(() => decideInvoice(pay(0n), approved), 'PAYMENT_AMOUNT_NOT_POSITIVE');
    expectDomainError(() => decideInvoice(pay(-1n), approved), 'PAYMENT_AMOUNT_NOT_POSITIVE');
    expectDomainError(() => decideInvoice(pay(100n, { currency: 'USD' }), approved), 'CURRENCY_MISMATCH');
    expect(decideInvoice(pay(100n, { currency: 'BDT' }), approved)).toHaveLength(1);
    const once = run([pay(100n, { paymentId: 'p-1' })], approved).state;
    expectDomainError(() => decideInvoice(pay(100n, { paymentId: 'p-1' }), once), 'PAYMENT_ALREADY_RECORDED');
  });
});

describe('invoice decider: cancel', () => {
  it('cancels a DRAFT without postings', () => {
    const { state, events } = run([createCommand(), cancel('duplicate')]);
    expect(existing(state).status).toBe('CANCELLED');
    const data = events[1].data as InvoiceCancelled;
    expect(data).toEqual({ invoiceId: INVOICE_ID, reason: 'duplicate', cancelledAt: NOW });
  });

  it('cancels an APPROVED invoice without payments, reversing the approval entry', () => {
    const { state, events } = run([createCommand(), approve(), cancel()]);
    expect(existing(state).status).toBe('CANCELLED');
    const data = events[2].data as InvoiceCancelled;
    expect(data.journalEntryId).toBe('je-reversal');
    expect(data.postings).toEqual([
      { accountCode: ACCOUNTS.revenue, debitMinor: '550000', creditMinor: '0' },
      { accountCode: ACCOUNTS.vatPayable, debitMinor: '82500', creditMinor: '0' },
      { accountCode: ACCOUNTS.accountsReceivable, debitMinor: '0', creditMinor: '632500' },
    ]);
  });

  it('rejects cancelling an invoice with payments (partly or fully paid) or cancelling twice', () => {
    const partly = run([createCommand(), approve(), pay(100n)]).state;
    expectDomainError(() => decideInvoice(cancel(), partly), 'INVOICE_HAS_PAYMENTS');
    const paid = run([pay(632400n)], partly).state;
    expect(existing(paid).status).toBe('PAID');
    expectDomainError(() => decideInvoice(cancel(), paid), 'INVOICE_HAS_PAYMENTS');
    const cancelled = run([createCommand(), cancel()]).state;
    expectDomainError(() => decideInvoice(cancel(), cancelled), 'INVOICE_ALREADY_CANCELLED');
  });
});

describe('invoice decider: purity', () => {
  it('decide does not mutate the state and is repeatable', () => {
    const state = run([createCommand(), approve()]).state;
    const snapshot = JSON.stringify(state, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    const command = pay(100n, { paymentId: 'p-fixed' });
    expect(decideInvoice(command, state)).toEqual(decideInvoice(command, state));
    expect(JSON.stringify(state, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toBe(snapshot);
  });

  it('folds stored events (as JSON) to the same state, ignoring unrelated event types', () => {
    const { events, state } = run([createCommand(), approve(), pay(1000n)]);
    const stored = JSON.parse(JSON.stringify(events)) as FinanceEvent[];
    const unrelated = { type: 'JournalEntryPosted', data: { journalEntryId: 'x', date: '2026-01-01', memo: '', currency: 'BDT', lines: [] } } as FinanceEvent;
    expect(foldInvoice([...stored, unrelated])).toEqual(state);
  });
});
