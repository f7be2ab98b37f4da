import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../domain/errors';
import { JOURNAL_STREAM_PREFIX } from '../domain/events';
import { decideJournal, journalDecider, JournalLineInput, JournalState } from '../domain/journal';
import { CommandContext, newStreamId } from './command-context';
import { executeStreamCommand } from './command-handler';
import type { ApplicationDependencies } from './invoice.service';

export interface PostJournalEntryInput {
  date: string;
  memo: string;
  currency: string;
  lines: JournalLineInput[];
}

export interface JournalEntryResult {
  id: string;
  version: number;
  totalDebitMinor: bigint;
  totalCreditMinor: bigint;
}

export function journalStreamId(journalEntryId: string): string {
  return `${JOURNAL_STREAM_PREFIX}${journalEntryId}`;
}

/** Manual journal entries. Plain class; no framework. */
export class JournalService {
  private readonly newId: () => string;

  constructor(private readonly deps: ApplicationDependencies) {
    this.newId = deps.newId ?? randomUUID;
  }

  async post(input: PostJournalEntryInput, context: CommandContext): Promise<JournalEntryResult> {
    const journalEntryId = newStreamId(context, 'journal-entry', this.newId);
    const { version } = await executeStreamCommand<JournalState>(this.deps.eventStore, context, journalDecider, {
      streamId: journalStreamId(journalEntryId),
      mode: 'create',
      notFound: () => new NotFoundError('JOURNAL_ENTRY_NOT_FOUND', journalEntryId),
      decide: (state) => decideJournal({ type: 'PostJournalEntry', data: { journalEntryId, ...input } }, state),
    });
    const totalDebitMinor = input.lines.reduce((sum, line) => sum + line.debitMinor, 0n);
    return { id: journalEntryId, version, totalDebitMinor, totalCreditMinor: totalDebitMinor };
  }
}
