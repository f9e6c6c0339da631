path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/create" {
  capabilities = ["update"]
}

path "auth/token/revoke-self" {
  capabilities = ["update"]
}

path "secret/data/finance_report/previews/*" {
  capabilities = ["create", "delete", "read", "update"]
}

path "secret/metadata/finance_report/previews/*" {
  capabilities = ["delete", "read", "update"]
}

path "auth/approle/role/finance_report-pr1*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr2*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr3*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr4*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr5*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr6*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr7*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr8*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}

path "auth/approle/role/finance_report-pr9*" {
  capabilities = ["create", "delete", "read", "update"]
  allowed_parameters = {
    "token_bound_cidrs" = []
    "token_policies" = ["finance_report-previews-postgres", "finance_report-previews-redis", "finance_report-previews-app", "finance_report-previews-backup", ["finance_report-previews-postgres"], ["finance_report-previews-redis"], ["finance_report-previews-app"], ["finance_report-previews-backup"]]
    "token_explicit_max_ttl" = []
    "token_max_ttl" = []
    "token_no_default_policy" = []
    "token_period" = []
    "token_type" = []
    "token_ttl" = []
    "token_num_uses" = []
    "alias_metadata" = []
    "bind_secret_id" = []
    "secret_id_num_uses" = []
    "secret_id_ttl" = []
    "secret_id_bound_cidrs" = []
    "local_secret_ids" = []
    "secret_id" = []
    "cidr_list" = []
    "metadata" = []
    "ttl" = []
    "num_uses" = []
    "secret_id_accessor" = []
    "role_id" = []
  }
}
