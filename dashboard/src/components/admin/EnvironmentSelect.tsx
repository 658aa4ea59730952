// The environment a screen works in, kept in the URL (`?env=`) so that a
// link or a reload shows the same one. Defaults to "production" when it
// exists, else the first environment.
import { useCallback } from "react";
import { useSearchParams } from "react-router";
import { Select, type SelectProps } from "@mantine/core";
import { useEnvironments, type Environment } from "../../api/admin";

export function pickEnvironment(environments: Environment[] | undefined, wanted: string | null): string | null {
  if (!environments || environments.length === 0) return null;
  if (wanted && environments.some((e) => e.key === wanted)) return wanted;
  return (environments.find((e) => e.key === "production") ?? environments[0]).key;
}

/** The selected environment key (null while loading or when there is none). */
export function useSelectedEnvironment() {
  const environments = useEnvironments();
  const [params, setParams] = useSearchParams();
  const env = pickEnvironment(environments.data, params.get("env"));
  const setEnv = useCallback(
    (key: string) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          next.set("env", key);
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  return { env, setEnv, environments };
}

type Props = Omit<SelectProps, "data" | "value" | "onChange"> & {
  value: string | null;
  onChange: (key: string) => void;
  environments: Environment[];
};

export function EnvironmentSelect({ value, onChange, environments, label = "Environment", ...rest }: Props) {
  return (
    <Select
      label={label}
      data={environments.map((e) => e.key)}
      value={value}
      onChange={(key) => key && onChange(key)}
      allowDeselect={false}
      searchable={environments.length > 8}
      nothingFoundMessage="No such environment"
      {...rest}
    />
  );
}
