/** The integrity checks' names, in the order every verification report lists them (integration and e2e specs). */
export const INTEGRITY_CHECK_NAMES = [
  'orphaned_payments',
  'invoice_amount_paid',
  'invoice_status',
  'journal_entries_balanced',
  'account_daily_balances_match_lines',
  'trial_balance_balanced',
  'checkpoint_not_beyond_head',
];
