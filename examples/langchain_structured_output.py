"""Structured output: R1V4's answer as a validated pydantic object.

    python examples/langchain_structured_output.py

``with_structured_output`` forces a call of a tool shaped like your schema
(``method="function_calling"``, which works in every tool mode), so R1V4 can still think, and
even use its own server-side tools, before it answers in the schema.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py),
which replays the model's side of the exchange.
"""

from __future__ import annotations

from _backend import backend
from pydantic import BaseModel, Field

from langchain_r1v4 import ChatR1V4


class Landmark(BaseModel):
    """A famous landmark."""

    name: str = Field(description="the landmark's usual English name")
    city: str
    country: str
    height_m: float = Field(description="height in metres")
    completed: int = Field(description="year of completion")


def main() -> None:
    with backend() as b:
        if b.local:
            # The local server has no model: queue the calls a real R1V4 would make.
            from r1v4.testing import Reply

            fields = {
                "name": "Eiffel Tower",
                "city": "Paris",
                "country": "France",
                "height_m": 330,
                "completed": 1889,
            }
            call = [{"name": "Landmark", "arguments": fields}]
            b.script(
                Reply(
                    reasoning="The 1889 iron lattice tower is the Eiffel Tower.", tool_calls=call
                ),
                Reply(reasoning="Same tower again.", tool_calls=call),
            )
        llm = ChatR1V4(**b.client_kwargs)

        landmark = llm.with_structured_output(Landmark).invoke(
            "Describe the iron lattice tower built for the 1889 World's Fair."
        )
        print(repr(landmark))

        # include_raw=True also returns the message, with R1V4's reasoning.
        out = llm.with_structured_output(Landmark, include_raw=True).invoke(
            "The same tower, please."
        )
        print("parsed:", out["parsed"])
        print("reasoning:", out["raw"].additional_kwargs.get("reasoning_content"))


if __name__ == "__main__":
    main()
