path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "sys/policies/acl/finance_report-staging-app" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/staging/app\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "sys/policies/acl/finance_report-staging-backup" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/staging/backup\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "sys/policies/acl/finance_report-staging-postgres" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/staging/postgres\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "sys/policies/acl/finance_report-staging-redis" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "policy" = ["path \"secret/data/finance_report/staging/redis\" {\n  capabilities = [\"read\"]\n}\n\npath \"auth/token/lookup-self\" {\n  capabilities = [\"read\"]\n}\n"]
  }
}

path "secret/data/finance_report/staging/app" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/finance_report/staging/backup" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/finance_report/staging/postgres" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/finance_report/staging/redis" {
  capabilities = ["create", "read", "update"]
}

path "secret/metadata/finance_report/staging/app" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/staging/backup" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/staging/postgres" {
  capabilities = ["read"]
}

path "secret/metadata/finance_report/staging/redis" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-app" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-staging-app", ["finance_report-staging-app"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-staging-backup" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-staging-backup", ["finance_report-staging-backup"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-staging-postgres" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-staging-postgres", ["finance_report-staging-postgres"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-staging-redis" {
  capabilities = ["create", "read"]
  allowed_parameters = {
    "token_policies" = ["finance_report-staging-redis", ["finance_report-staging-redis"]]
    "bind_secret_id" = [true]
    "token_no_default_policy" = [true]
    "local_secret_ids" = [false]
    "token_type" = ["service"]
    "token_ttl" = []
    "token_max_ttl" = []
    "secret_id_ttl" = []
  }
}

path "auth/approle/role/finance_report-staging-app/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-backup/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-postgres/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-redis/role-id" {
  capabilities = ["read"]
}

path "auth/approle/role/finance_report-staging-app/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-staging-backup/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-staging-postgres/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-staging-redis/secret-id-accessor/lookup" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-staging-app/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-staging-backup/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-staging-postgres/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-staging-redis/secret-id" {
  capabilities = ["list", "update"]
  allowed_parameters = {
    "metadata" = []
  }
}

path "auth/approle/role/finance_report-staging-app/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-staging-backup/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-staging-postgres/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/approle/role/finance_report-staging-redis/secret-id-accessor/destroy" {
  capabilities = ["update"]
  allowed_parameters = {
    "secret_id_accessor" = []
  }
}

path "auth/token/create" {
  capabilities = ["update"]
}

path "sys/capabilities-self" {
  capabilities = ["update"]
}
