import { Body, Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PostJournalEntryInput } from '../../application/journal.service';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { parsePostJournalEntry } from './request-parsing';
import { journalEntryBody } from './response-mapping';
import { WriteRequestHandler } from './write-request.handler';

/** Manual journal entries: 201 {id, version, totalDebit, totalCredit}; 422 JOURNAL_UNBALANCED. */
@Controller('journal-entries')
@UseGuards(JwtAuthGuard)
export class JournalEntriesController {
  constructor(private readonly writes: WriteRequestHandler) {}

  @Post()
  async post(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<void> {
    let input: PostJournalEntryInput;
    await this.writes.handle({
      request,
      reply,
      principal,
      successStatus: 201,
      parse: () => (input = parsePostJournalEntry(body)),
      execute: async ({ journals }, context) => journalEntryBody(await journals.post(input, context)),
      location: (result) => `/journal-entries/${String(result.id)}`,
    });
  }
}
