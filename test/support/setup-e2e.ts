// e2e specs boot the whole service (and on MariaDB, run its migrations) per file.
jest.setTimeout(60_000);
