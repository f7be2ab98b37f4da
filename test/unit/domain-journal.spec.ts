import { DomainError, ValidationError } from '../../services/finance/src/domain/errors';
import { decideJournal, evolveJournal, foldJournal, initialJournalState, JournalLineInput, PostJournalEntry } from '../../services/finance/src/domain/journal';

function post(lines: JournalLineInput[]): PostJournalEntry {
  return { type: 'PostJournalEntry', data: { journalEntryId: 'je-1', date: '2026-11-26', memo: 'Opening cash', currency: 'BDT', lines } };
}
const dr = (accountCode: string, minor: bigint): JournalLineInput => ({ accountCode, debitMinor: minor, creditMinor: 0n });
const cr = (accountCode: string, minor: bigint): JournalLineInput => ({ accountCode, debitMinor: 0n, creditMinor: minor });

function code(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return (error as DomainError).code;
  }
  throw new Error('expected a DomainError');
}

describe('journal decider', () => {
  it('posts a balanced entry with its lines in minor units', () => {
    const events = decideJournal(post([dr('1000', 10000n), cr('3000', 10000n)]), initialJournalState());
    expect(events).toEqual([
      {
        type: 'JournalEntryPosted',
        data: {
          journalEntryId: 'je-1',
          date: '2026-11-26',
          memo: 'Opening cash',
          currency: 'BDT',
          lines: [
            { accountCode: '1000', debitMinor: '10000', creditMinor: '0' },
            { accountCode: '3000', debitMinor: '0', creditMinor: '10000' },
          ],
        },
      },
    ]);
    expect(foldJournal(events)).toEqual({ posted: true, journalEntryId: 'je-1' });
  });

  it('accepts many-to-many balanced entries', () => {
    expect(decideJournal(post([dr('1000', 7000n), dr('1010', 3000n), cr('3000', 5000n), cr('4000', 5000n)]), initialJournalState())).toHaveLength(1);
  });

  it('rejects an unbalanced entry with JOURNAL_UNBALANCED and both totals', () => {
    try {
      decideJournal(post([dr('1000', 10000n), cr('3000', 9999n)]), initialJournalState());
      throw new Error('expected JOURNAL_UNBALANCED');
    } catch (error) {
      expect((error as DomainError).code).toBe('JOURNAL_UNBALANCED');
      expect((error as DomainError).details).toEqual({ totalDebit: '100.00', totalCredit: '99.99' });
    }
  });

  it('refuses debits (and credits) that total more than the largest amount, naming lines', () => {
    const max = 10n ** 17n - 1n;
    try {
      decideJournal(post([dr('1000', max), dr('1001', 1n), cr('3000', max), cr('3001', 1n)]), initialJournalState());
      throw new Error('expected a ValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe('lines');
      expect((error as ValidationError).message).toMatch(/debits is 1000000000000000.00 exceeds the largest amount/);
    }
    expect(decideJournal(post([dr('1000', max), cr('3000', max)]), initialJournalState())).toHaveLength(1);
  });

  it('rejects fewer than two lines', () => {
    expect(code(() => decideJournal(post([dr('1000', 100n)]), initialJournalState()))).toBe('JOURNAL_TOO_FEW_LINES');
    expect(code(() => decideJournal(post([]), initialJournalState()))).toBe('JOURNAL_TOO_FEW_LINES');
  });

  it('rejects lines with both sides, neither side, or a negative side', () => {
    const both = { accountCode: '1000', debitMinor: 100n, creditMinor: 100n };
    expect(code(() => decideJournal(post([both, dr('1', 0n)]), initialJournalState()))).toBe('JOURNAL_LINE_INVALID');
    expect(code(() => decideJournal(post([dr('1000', 0n), cr('3000', 0n)]), initialJournalState()))).toBe('JOURNAL_LINE_INVALID');
    expect(code(() => decideJournal(post([dr('1000', -5n), cr('3000', -5n)]), initialJournalState()))).toBe('JOURNAL_LINE_INVALID');
  });

  it('rejects posting the same entry twice', () => {
    const state = evolveJournal(initialJournalState(), decideJournal(post([dr('1000', 1n), cr('3000', 1n)]), initialJournalState())[0]);
    expect(code(() => decideJournal(post([dr('1000', 1n), cr('3000', 1n)]), state))).toBe('JOURNAL_ALREADY_POSTED');
  });
});
