// Rule: a command names the database it acts on by host, port and name, never by its user or
// password; the embedded one by its folder, marked as for development only.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseTarget } from '../../src/bootstrap';

const of = (databaseUrl: string | undefined, dataDir = '.data') => databaseTarget({ databaseUrl, dataDir });

describe('databaseTarget', () => {
  it('names host, port and database, never the credentials', () => {
    const named = of('postgres://gw:S3cret%40pw@db.internal:6432/gateway?sslmode=require');
    expect(named).toBe('PostgreSQL database "gateway" at db.internal:6432');
    expect(named).not.toMatch(/S3cret|gw:/);
  });

  it("takes PostgreSQL's defaults where the URL leaves them out: port 5432, the user's name as the database's", () => {
    expect(of('postgresql://alice:pw@127.0.0.1/')).toBe('PostgreSQL database "alice" at 127.0.0.1:5432');
  });

  it('names a socket directory given as the host parameter, and falls back to the setting for several hosts', () => {
    expect(of('postgres://gw@localhost/gateway?host=/var/run/postgresql')).toBe('PostgreSQL database "gateway" at /var/run/postgresql:5432');
    expect(of('postgres://gw:pw@a:5432,b:5432/gateway')).toBe('the PostgreSQL database of DATABASE_URL');
    expect(of('postgres://gw:pw@db/gate%zzway')).toBe('PostgreSQL database "gate%zzway" at db:5432');
  });

  it('names the embedded database by its folder, for development only', () => {
    expect(of(undefined, 'some/dir')).toBe(`the embedded database in ${path.resolve('some/dir')} (DATABASE_URL is unset: for development only)`);
  });
});
