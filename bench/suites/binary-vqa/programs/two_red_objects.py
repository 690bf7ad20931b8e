def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Are there exactly two red objects?
    image_patch = ImagePatch(image)
    red_patches = image_patch.find("red object")
    count = 0
    for red_patch in red_patches:
        # The color filter of find() can take orange or purple for red: confirm each one
        if red_patch.verify_property("object", "red"):
            count += 1
    return bool_to_yesno(count == 2)
