// A percentage NumberInput that lets the field be cleared while typing: it
// reports only numbers and follows the value when it changes elsewhere.
import { useEffect, useState } from "react";
import { NumberInput, Text, type NumberInputProps } from "@mantine/core";

interface Props extends Omit<NumberInputProps, "value" | "onChange"> {
  value: number;
  onPercentChange(value: number): void;
}

export function PercentInput({ value, onPercentChange, ...rest }: Props) {
  const [text, setText] = useState<string | number>(value);
  useEffect(() => {
    setText((current) => (current === value ? current : value));
  }, [value]);
  return (
    <NumberInput
      min={0}
      max={100}
      clampBehavior="strict"
      allowNegative={false}
      rightSection={
        <Text size="sm" c="dimmed" aria-hidden>
          %
        </Text>
      }
      {...rest}
      value={text}
      onChange={(next) => {
        setText(next);
        if (typeof next === "number" && Number.isFinite(next)) onPercentChange(next);
      }}
    />
  );
}
