"""Loans of equipment kits: pupils and guardians, components, contracts and their documents.

- `service`: the use cases the API calls, each one transaction, committed;
- `people`: pupils and guardians, personal data encrypted, what each role may see of them;
- `inventory`: serial-numbered components, in a kit or in spare stock;
- `contracts`: contracts drawn up, stepped through their life, annexed (a part or the whole kit
  replaced), printed; `lifecycle`: the contract's pure state machine and the lent states;
- `kit_status`: a kit lost, retired or returned, and its revocation published;
- `documents`: the contract and the acts as PDFs in Kazakh and Russian;
- `imports` (with `import_rows`): CSV files of kits, components, pupils and guardians, and the
  register; `alerts` (with `reconcile`): what staff should act on;
- `schemas`: the API's models; `errors`: what the domain refuses; `tables`: its tables.
"""
