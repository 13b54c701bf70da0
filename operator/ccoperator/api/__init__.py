"""The vocabulary of the operator's resources: pydantic models of the client (`clients`) and
the tenant kinds (`tenants`), the Secret as decisions read it (`secrets`), and the Ready
condition's reasons (`conditions`). Imports nothing of the operator but `identity`'s API form."""
