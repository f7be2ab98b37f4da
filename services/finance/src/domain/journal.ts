/** The manual journal entry as a pure decider (stream `journal-<uuid>`): posted once, balanced. */
import { Decider, fold } from './decider';
import { DomainError } from './errors';
import type { FinanceEvent, PostingLine } from './events';
import { checkAmountLimit, formatMinor, toMinorString } from './money';

export interface JournalLineInput {
  accountCode: string;
  debitMinor: bigint;
  creditMinor: bigint;
}

export interface PostJournalEntry {
  type: 'PostJournalEntry';
  data: {
    journalEntryId: string;
    date: string;
    memo: string;
    currency: string;
    lines: JournalLineInput[];
  };
}

export type JournalCommand = PostJournalEntry;
export type JournalEvent = Extract<FinanceEvent, { type: 'JournalEntryPosted' }>;

export type JournalState = { posted: false } | { posted: true; journalEntryId: string };

export const initialJournalState = (): JournalState => ({ posted: false });

export const MIN_JOURNAL_LINES = 2;

export function decideJournal(command: JournalCommand, state: JournalState): JournalEvent[] {
  const { data } = command;
  if (state.posted) {
    throw new DomainError('JOURNAL_ALREADY_POSTED', `Journal entry ${data.journalEntryId} is already posted`, { journalEntryId: data.journalEntryId });
  }
  if (data.lines.length < MIN_JOURNAL_LINES) {
    throw new DomainError('JOURNAL_TOO_FEW_LINES', `A journal entry needs at least ${MIN_JOURNAL_LINES} lines (got ${data.lines.length})`, {
      lines: data.lines.length,
    });
  }
  let debits = 0n;
  let credits = 0n;
  const lines: PostingLine[] = data.lines.map((line, index) => {
    const oneSided = (line.debitMinor > 0n && line.creditMinor === 0n) || (line.creditMinor > 0n && line.debitMinor === 0n);
    if (!oneSided || line.debitMinor < 0n || line.creditMinor < 0n) {
      throw new DomainError('JOURNAL_LINE_INVALID', `Journal line ${index} must have exactly one of a positive debit or a positive credit`, { line: index });
    }
    debits += line.debitMinor;
    credits += line.creditMinor;
    return { accountCode: line.accountCode, debitMinor: toMinorString(line.debitMinor), creditMinor: toMinorString(line.creditMinor) };
  });
  checkAmountLimit(debits, 'lines', 'the total of the debits is');
  checkAmountLimit(credits, 'lines', 'the total of the credits is');
  if (debits !== credits) {
    throw new DomainError('JOURNAL_UNBALANCED', `Total debits ${formatMinor(debits)} do not equal total credits ${formatMinor(credits)}`, {
      totalDebit: formatMinor(debits),
      totalCredit: formatMinor(credits),
    });
  }
  return [
    {
      type: 'JournalEntryPosted',
      data: { journalEntryId: data.journalEntryId, date: data.date, memo: data.memo, currency: data.currency, lines },
    },
  ];
}

export function evolveJournal(state: JournalState, event: JournalEvent | FinanceEvent): JournalState {
  return event.type === 'JournalEntryPosted' ? { posted: true, journalEntryId: event.data.journalEntryId } : state;
}

export const journalDecider: Decider<JournalCommand, JournalEvent, JournalState> = {
  decide: decideJournal,
  evolve: evolveJournal,
  initialState: initialJournalState,
};

export function foldJournal(events: Iterable<JournalEvent | FinanceEvent>): JournalState {
  return fold({ evolve: evolveJournal, initialState: initialJournalState }, events);
}
