"""The public jupyter_kernel_test conformance suite, every sample filled in."""
import unittest

import jupyter_kernel_test


class PEFTLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "peftlab"
    language_name = "peftlab"
    file_extension = ".peft"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'print("something went wrong", to: .stderr)'

    completion_samples = [
        {"text": "pri", "matches": {"print"}},
        {"text": "clear", "matches": {"clearOutput"}},
        {"text": "let learningRate = 2e-4\nlearn", "matches": {"learningRate"}},
        {"text": "sleep(sec", "matches": {"seconds:"}},
    ]

    complete_code_samples = ["1 + 1", "let x = 2", 'print("hi")', "if true {\n    print(1)\n}", "[1, 2, 3]"]
    incomplete_code_samples = ["print(", "let x = [1,", "if true {", "let y = 1 +", "/* a comment"]
    invalid_code_samples = ['"abc', "let = 5", "1 +* 2", ")", "let x 5"]

    code_page_something = 'page("PEFTLab pages long text here")'
    code_generate_error = "undefinedName + 1"

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "1.5 * 2", "result": "3.0"},
        {"code": '"peft" + "lab"', "result": '"peftlab"'},
        {"code": "[1, 2] + [3]", "result": "[1, 2, 3]"},
    ]

    code_display_data = [
        {"code": 'display(html: "<b>bold</b>")', "mime": "text/html"},
        {"code": 'display(markdown: "# Title")', "mime": "text/markdown"},
        {"code": 'display(svg: "<svg xmlns=\\"http://www.w3.org/2000/svg\\"/>")', "mime": "image/svg+xml"},
        {"code": 'display(json: "{\\"a\\": 1}")', "mime": "application/json"},
    ]

    code_history_pattern = "6*7"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "print"
    code_clear_output = "clearOutput()"


if __name__ == "__main__":
    unittest.main()
