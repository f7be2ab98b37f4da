import { calendarDateIn, isTimeZone } from '../../services/finance/src/domain/calendar-date';
import { ValidationError } from '../../services/finance/src/domain/errors';
import {
  divideRoundHalfUp,
  formatMinor,
  formatQuantity,
  formatVatRate,
  lineAmounts,
  parseAmount,
  parseCurrency,
  parseDate,
  parseQuantity,
  parseTimestamp,
  MAX_AMOUNT_MINOR,
  checkAmountLimit,
  parseVatRate,
} from '../../services/finance/src/domain/money';

function validationField(run: () => unknown): { field: string; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return { field: (error as ValidationError).field, message: (error as ValidationError).message };
  }
  throw new Error('expected a ValidationError');
}

describe('parseAmount', () => {
  it.each([
    ['1250.50', 125050n],
    ['1250.5', 125050n],
    ['1250', 125000n],
    ['0.01', 1n],
    ['0', 0n],
    ['550.00', 55000n],
    ['999999999999999.99', 99999999999999999n],
  ])('parses %s to %s minor units', (text, minor) => {
    expect(parseAmount(text, 'amount')).toBe(minor);
  });

  it.each([
    ['1.234', /at most 2 decimal places/],
    ['-5', /negative/],
    ['-0.01', /negative/],
    ['abc', /decimal string/],
    ['', /decimal string/],
    [' 5', /decimal string/],
    ['1e3', /decimal string/],
    ['1.', /decimal string/],
    ['.5', /decimal string/],
    ['1,000.00', /decimal string/],
    ['0x10', /decimal string/],
    ['Infinity', /decimal string/],
    ['1234567890123456', /decimal string/],
  ])('rejects "%s" naming the field', (text, message) => {
    const problem = validationField(() => parseAmount(text, 'lines[0].unitPrice'));
    expect(problem.field).toBe('lines[0].unitPrice');
    expect(problem.message).toMatch(message);
  });

  it('rejects JSON numbers, fractional or not, asking for a decimal string', () => {
    for (const value of [12.5, 100, 0.1]) {
      const problem = validationField(() => parseAmount(value, 'amount'));
      expect(problem.field).toBe('amount');
      expect(problem.message).toMatch(/decimal string/);
      expect(problem.message).toMatch(/not a JSON number/);
    }
  });

  it('rejects other JSON types', () => {
    for (const value of [null, true, {}, ['1.00'], undefined]) {
      expect(validationField(() => parseAmount(value, 'amount')).field).toBe('amount');
    }
  });

  it('rejects zero when zero is not allowed', () => {
    expect(validationField(() => parseAmount('0.00', 'amount', { allowZero: false })).message).toMatch(/greater than 0/);
    expect(parseAmount('0.01', 'amount', { allowZero: false })).toBe(1n);
  });
});

describe('formatMinor', () => {
  it.each([
    [632500n, '6325.00'],
    [125050n, '1250.50'],
    [1n, '0.01'],
    [0n, '0.00'],
    [-505n, '-5.05'],
    [99999999999999999999n, '999999999999999999.99'],
  ])('formats %s as %s', (minor, text) => {
    expect(formatMinor(minor)).toBe(text);
  });

  it('accepts the event form (decimal string of minor units)', () => {
    expect(formatMinor('632500')).toBe('6325.00');
  });

  it('round-trips with parseAmount', () => {
    for (const text of ['0.00', '0.05', '10.10', '3162.50', '123456789.99']) expect(formatMinor(parseAmount(text, 'a'))).toBe(text);
  });
});

describe('half-up rounding', () => {
  it('divideRoundHalfUp rounds halves up and everything else to nearest', () => {
    expect(divideRoundHalfUp(5n, 10n)).toBe(1n); // 0.5 → 1
    expect(divideRoundHalfUp(4n, 10n)).toBe(0n); // 0.4 → 0
    expect(divideRoundHalfUp(15n, 10n)).toBe(2n); // 1.5 → 2
    expect(divideRoundHalfUp(25n, 10n)).toBe(3n); // 2.5 → 3 (not banker's 2)
    expect(divideRoundHalfUp(249n, 100n)).toBe(2n);
    expect(divideRoundHalfUp(-25n, 10n)).toBe(-3n); // half away from zero
    expect(divideRoundHalfUp(0n, 7n)).toBe(0n);
  });

  it('rounds VAT per line half-up to the paisa', () => {
    // 0.10 × 15% = 0.015 → 0.02
    expect(lineAmounts(1000n, 10n, 1500)).toEqual({ netMinor: 10n, vatMinor: 2n });
    // 0.03 × 15% = 0.0045 → 0.00
    expect(lineAmounts(1000n, 3n, 1500)).toEqual({ netMinor: 3n, vatMinor: 0n });
    // 33.33 × 7.5% = 2.49975 → 2.50
    expect(lineAmounts(1000n, 3333n, 750)).toEqual({ netMinor: 3333n, vatMinor: 250n });
    // 1.70 × 15% = 0.255 → 0.26 (a float would give 0.25499999...)
    expect(lineAmounts(1000n, 170n, 1500)).toEqual({ netMinor: 170n, vatMinor: 26n });
  });

  it('rounds the net of a fractional quantity half-up to the paisa', () => {
    // 2.5 × 0.99 = 2.475 → 2.48; VAT 15% of 2.48 = 0.372 → 0.37
    expect(lineAmounts(2500n, 99n, 1500)).toEqual({ netMinor: 248n, vatMinor: 37n });
    // 0.333 × 1.00 = 0.333 → 0.33
    expect(lineAmounts(333n, 100n, 0)).toEqual({ netMinor: 33n, vatMinor: 0n });
  });

  it('computes the example invoice: 10 × 550.00 at 15% = 5500.00 + 825.00 = 6325.00', () => {
    const { netMinor, vatMinor } = lineAmounts(parseQuantity(10, 'q'), parseAmount('550.00', 'p'), parseVatRate('0.15', 'r'));
    expect(formatMinor(netMinor)).toBe('5500.00');
    expect(formatMinor(vatMinor)).toBe('825.00');
    expect(formatMinor(netMinor + vatMinor)).toBe('6325.00');
  });
});

describe('parseQuantity', () => {
  it.each([
    [10, 10000n],
    [2.5, 2500n],
    [0.125, 125n],
    ['2.5', 2500n],
    ['10', 10000n],
    ['0.001', 1n],
  ])('parses %p to %s thousandths', (value, milli) => {
    expect(parseQuantity(value, 'lines[0].quantity')).toBe(milli);
  });

  it.each([0, -1, 1.2345, '1.2345', 'ten', '', NaN, Infinity, 1e21, null, true, '-2', '0.000'])('rejects %p', (value) => {
    expect(validationField(() => parseQuantity(value, 'lines[0].quantity')).field).toBe('lines[0].quantity');
  });

  it('formats thousandths', () => {
    expect(formatQuantity(10000n)).toBe('10');
    expect(formatQuantity('2500')).toBe('2.5');
    expect(formatQuantity(125n)).toBe('0.125');
  });
});

describe('parseVatRate', () => {
  it.each([
    ['0.15', 1500],
    ['0.075', 750],
    ['0', 0],
    ['1', 10000],
    ['0.0001', 1],
    [0.15, 1500],
    [0, 0],
  ])('parses %p to %s basis points', (value, bp) => {
    expect(parseVatRate(value, 'vatRate')).toBe(bp);
  });

  it.each(['15%', '1.5', '-0.15', '0.12345', 'abc', 2, null])('rejects %p', (value) => {
    expect(validationField(() => parseVatRate(value, 'lines[0].vatRate')).field).toBe('lines[0].vatRate');
  });

  it('formats basis points', () => {
    expect(formatVatRate(1500)).toBe('0.15');
    expect(formatVatRate(750)).toBe('0.075');
    expect(formatVatRate(10000)).toBe('1');
  });
});

describe('accounting dates', () => {
  it('is the calendar date where the books are kept, not the UTC date', () => {
    const instant = new Date('2026-11-30T18:30:00.000Z');
    expect(calendarDateIn(instant, 'Asia/Dhaka')).toBe('2026-12-01');
    expect(calendarDateIn(instant, 'UTC')).toBe('2026-11-30');
    expect(calendarDateIn(instant, 'America/New_York')).toBe('2026-11-30');
    expect(calendarDateIn(new Date('0999-03-01T00:00:00.000Z'), 'UTC')).toBe('0999-03-01');
    expect(isTimeZone('Asia/Dhaka')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});

describe('currency, dates and timestamps', () => {
  it('defaults the currency to BDT and accepts uppercase ISO codes only', () => {
    expect(parseCurrency(undefined, 'currency')).toBe('BDT');
    expect(parseCurrency('USD', 'currency')).toBe('USD');
    for (const bad of ['bdt', 'BD', 'BDTT', 5, '']) expect(validationField(() => parseCurrency(bad, 'currency')).field).toBe('currency');
  });

  it('refuses currencies whose minor unit is not the hundredth (their amounts would be misread)', () => {
    expect(() => parseCurrency('JPY', 'currency')).toThrow(/JPY has 0 decimal places in ISO 4217/);
    expect(() => parseCurrency('KWD', 'currency')).toThrow(/KWD has 3 decimal places/);
    expect(() => parseCurrency('XAU', 'currency')).toThrow(/XAU has no minor unit/);
    for (const fine of ['GBP', 'INR', 'IDR', 'HUF']) expect(parseCurrency(fine, 'currency')).toBe(fine);
  });

  it('refuses codes that are not currencies in use, naming the field (ISO 4217 list one, not the runtime ICU list)', () => {
    // VED is in use, and the runtime's ICU list (Intl.supportedValuesOf) lacks it; it lists withdrawn HRK and ZWL.
    for (const inUse of ['VED', 'ZWG', 'XCG', 'SLE', 'BOV']) expect(parseCurrency(inUse, 'currency')).toBe(inUse);
    for (const unknown of ['USS', 'ABC', 'DEM', 'HRK', 'ZWL']) {
      const error = validationField(() => parseCurrency(unknown, 'currency'));
      expect(error).toEqual({ field: 'currency', message: `currency: ${unknown} is not a currency in use (ISO 4217)` });
    }
  });

  it('accepts real calendar dates only', () => {
    expect(parseDate('2026-12-31', 'dueDate')).toBe('2026-12-31');
    expect(parseDate('2028-02-29', 'dueDate')).toBe('2028-02-29');
    for (const bad of ['2026-02-30', '2026-13-01', '31-12-2026', '2026-12-31T00:00:00Z', '', 20261231]) {
      expect(validationField(() => parseDate(bad, 'dueDate')).field).toBe('dueDate');
    }
  });

  it('accepts ISO timestamps with a zone and normalises them to UTC', () => {
    expect(parseTimestamp('2026-11-26T10:00:00Z', 'paidAt')).toBe('2026-11-26T10:00:00.000Z');
    expect(parseTimestamp('2026-11-26T16:00:00+06:00', 'paidAt')).toBe('2026-11-26T10:00:00.000Z');
    for (const bad of ['2026-11-26', '2026-11-26T10:00:00', 'yesterday', '2026-11-26T25:00:00Z', '2026-02-30T10:00:00Z']) {
      expect(validationField(() => parseTimestamp(bad, 'paidAt')).field).toBe('paidAt');
    }
  });

  it('refuses a timestamp that is in the year 10000 once in UTC (toISOString would write "+010000-...")', () => {
    expect(parseTimestamp('9999-12-31T18:59:59-05:00', 'paidAt')).toBe('9999-12-31T23:59:59.000Z');
    expect(validationField(() => parseTimestamp('9999-12-31T23:00:00-05:00', 'paidAt'))).toEqual({
      field: 'paidAt',
      message: expect.stringMatching(/before the year 10000 in UTC/),
    });
  });

  it('holds computed amounts to the largest amount the API accepts', () => {
    expect(MAX_AMOUNT_MINOR).toBe(parseAmount('999999999999999.99', 'amount'));
    expect(() => checkAmountLimit(MAX_AMOUNT_MINOR, 'lines', 'the total is')).not.toThrow();
    expect(validationField(() => checkAmountLimit(MAX_AMOUNT_MINOR + 1n, 'lines', 'the total is'))).toEqual({
      field: 'lines',
      message: 'lines: the total is 1000000000000000.00 exceeds the largest amount, 999999999999999.99',
    });
  });
});
