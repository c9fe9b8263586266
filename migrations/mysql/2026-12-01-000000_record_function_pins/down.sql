DROP TABLE bookstore_function_pins;
